"""Home Assistant MQTT discovery: the entities a door exposes, as retained config messages.

Pure functions of the config: the publisher sends these on every connect
(retained, so Home Assistant picks them up whenever it starts), and
``edgeface ha remove`` sends empty retained payloads to the same topics,
which is how discovery deletes entities.

Entities, all in one device (identifiers ``edgeface_<device_id>``) and all
available while ``<prefix>/availability`` says ``online`` (the last will):

* ``lock.<id>_door`` — state from ``<prefix>/door``; unlocking publishes ``{}``
  to ``<prefix>/cmd/unlock``. Only with remote unlock enabled: Home Assistant's
  MQTT lock needs a command topic. Without it the door is a ``binary_sensor``
  of class ``lock`` (on = unlocked).
* ``sensor.<id>_last_person`` — the name from the last event (or its type when
  nobody was recognised), with the whole event as attributes.
* ``binary_sensor.<id>_face`` — ``ON`` while a face is in front of the camera
  (``<prefix>/presence``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from edgeface import __version__
from edgeface.mqtt.topics import Topics, discovery_topic


@dataclass(frozen=True)
class Announcement:
    topic: str
    payload: str
    """JSON config, or empty to remove the entity."""


def device_block(device_id: str) -> dict[str, object]:
    return {
        "identifiers": [f"edgeface_{device_id}"],
        "name": f"edgeface {device_id}",
        "manufacturer": "edgeface",
        "model": "edgeface face-recognition door",
        "sw_version": __version__,
    }


def entities(device_id: str, prefix: str, remote_unlock: bool) -> dict[str, dict[str, object]]:
    """Discovery config topic → payload for every entity of this door."""
    topics = Topics(prefix)
    common: dict[str, object] = {
        "device": device_block(device_id),
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    door: dict[str, object] = {
        **common,
        "name": "Door",
        "unique_id": f"edgeface_{device_id}_door",
        "state_topic": topics.door,
    }
    if remote_unlock:
        door |= {
            "command_topic": topics.command("unlock"),
            "payload_unlock": "{}",
            # The door locks itself when the pulse ends; a lock request is logged and ignored.
            "payload_lock": "LOCK",
            "state_locked": "locked",
            "state_unlocked": "unlocked",
            "optimistic": False,
        }
        door_topic = discovery_topic("lock", device_id, "door")
    else:
        door |= {"device_class": "lock", "payload_on": "unlocked", "payload_off": "locked"}
        door_topic = discovery_topic("binary_sensor", device_id, "door")
    return {
        door_topic: door,
        discovery_topic("sensor", device_id, "last_person"): {
            **common,
            "name": "Last person",
            "unique_id": f"edgeface_{device_id}_last_person",
            "state_topic": topics.event,
            "value_template": "{{ value_json.person if value_json.person else value_json.type }}",
            "json_attributes_topic": topics.event,
            "icon": "mdi:face-recognition",
        },
        discovery_topic("binary_sensor", device_id, "face"): {
            **common,
            "name": "Face present",
            "unique_id": f"edgeface_{device_id}_face",
            "state_topic": topics.presence,
            "payload_on": "ON",
            "payload_off": "OFF",
            "device_class": "occupancy",
        },
    }


def announcements(device_id: str, prefix: str, remote_unlock: bool) -> list[Announcement]:
    """What to publish (retained) so Home Assistant creates the door's entities."""
    stale = discovery_topic("binary_sensor" if remote_unlock else "lock", device_id, "door")
    made = [
        Announcement(topic, json.dumps(payload, sort_keys=True))
        for topic, payload in entities(device_id, prefix, remote_unlock).items()
    ]
    # Switching remote unlock on or off changes the door's component: clear the other one.
    return [*made, Announcement(stale, "")]


def removals(device_id: str, prefix: str) -> list[Announcement]:
    """Empty retained payloads that delete every entity this door may have announced."""
    topics = set(entities(device_id, prefix, True)) | set(entities(device_id, prefix, False))
    return [Announcement(topic, "") for topic in sorted(topics)]
