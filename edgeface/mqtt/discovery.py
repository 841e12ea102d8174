"""Home Assistant MQTT discovery: the entities a door exposes, as retained config messages.

Pure functions of a :class:`~edgeface.mqtt.entities.base.DoorDevice` (made from the config): the
publisher sends these on every connect and on every reload (retained, so Home Assistant picks them
up whenever it starts), and ``edgeface ha remove`` sends empty retained payloads to the same topics,
which is how discovery deletes entities.

Entities, all in one device (identifiers ``edgeface_<device_id>``, ``configuration_url`` the live
page when ``web.enabled``), all available while ``<prefix>/availability`` says ``online`` (the last
will); one module per platform in :mod:`edgeface.mqtt.entities`:

* ``lock.edgeface_<id>_door`` — state from ``<prefix>/door``; *Unlock* publishes ``{}`` and *Lock*
  ``LOCK`` to ``<prefix>/cmd/unlock``. Only with remote unlock enabled: Home Assistant's MQTT lock
  needs a command topic. Without it the door is ``binary_sensor.edgeface_<id>_door`` of class
  ``lock`` (on = unlocked).
* ``sensor.edgeface_<id>_last_person`` — the name on a grant, ``stranger``, ``denied: <name>``,
  ``denied`` or ``remote unlock``, with the whole event as attributes.
* ``event.edgeface_<id>_decision`` — every event on ``<prefix>/event`` (types granted, denied, unknown).
* ``binary_sensor.edgeface_<id>_face_present`` — ``ON`` while a face is in front of the camera
  (``<prefix>/presence``; unique id ``edgeface_<id>_face``).
* ``binary_sensor.edgeface_<id>_camera`` — connectivity: ON while frames arrive (``<prefix>/health``).
* ``image.edgeface_<id>_snapshot`` — the face crop of the last decision (``<prefix>/snapshot``), only
  with ``mqtt.snapshot``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from edgeface.mqtt.entities import binary_sensor, event, image, lock, sensor
from edgeface.mqtt.entities.base import DoorDevice, Entity, device_block
from edgeface.mqtt.topics import discovery_topic

__all__ = ["Announcement", "DoorDevice", "announcements", "device_block", "entities", "removals"]


@dataclass(frozen=True)
class Announcement:
    topic: str
    payload: str
    """JSON config, or empty to remove the entity."""


def _entities(door: DoorDevice) -> list[Entity]:
    made = [
        lock.door(door) if door.remote_unlock else binary_sensor.door(door),
        sensor.last_person(door),
        event.decision(door),
        binary_sensor.face_present(door),
        binary_sensor.camera(door),
    ]
    if door.snapshot:
        made.append(image.snapshot(door))
    return made


def entities(door: DoorDevice) -> dict[str, dict[str, object]]:
    """Discovery config topic → payload for every entity of this door."""
    return {discovery_topic(e.component, door.device_id, e.object_id): e.config for e in _entities(door)}


def _every_topic(device_id: str, prefix: str) -> set[str]:
    """The config topics of every entity a door with this id may have announced, whatever its options."""
    door = DoorDevice(device_id, prefix)
    return {
        topic
        for options in (replace(door, remote_unlock=u, snapshot=s) for u in (False, True) for s in (False, True))
        for topic in entities(options)
    }


def announcements(door: DoorDevice) -> list[Announcement]:
    """What to publish (retained) so Home Assistant creates the door's entities, and removes the ones it has not.

    Turning remote unlock on or off changes the door's component, and ``mqtt.snapshot`` off removes
    the image: the entities this door no longer has get an empty payload.
    """
    made = entities(door)
    stale = sorted(_every_topic(door.device_id, door.prefix) - set(made))
    return [Announcement(t, json.dumps(p, sort_keys=True)) for t, p in made.items()] + [
        Announcement(t, "") for t in stale
    ]


def removals(device_id: str, prefix: str) -> list[Announcement]:
    """Empty retained payloads that delete every entity this door may have announced."""
    return [Announcement(topic, "") for topic in sorted(_every_topic(device_id, prefix))]
