"""The payload of each topic the door publishes, as Home Assistant's entities read them.

One function per topic (:mod:`edgeface.mqtt.topics` lists them; :mod:`edgeface.mqtt.entities`
declares the entities that read them), so the bytes on the wire are written in one place.
"""

from __future__ import annotations

import json

from edgeface.values import DoorState, Event

__all__ = ["OFFLINE", "ONLINE", "door", "event", "health", "presence"]

ONLINE = "online"
"""``<prefix>/availability`` while connected; also the marker after a newer topic (:mod:`edgeface.mqtt.denied`)."""
OFFLINE = "offline"
"""``<prefix>/availability`` after a goodbye, and the last will."""


def event(decision: Event) -> str:
    """``<prefix>/event``: the whole event as compact JSON (Home Assistant's event and sensor read it)."""
    return json.dumps(decision.to_dict(), separators=(",", ":"))


def door(state: DoorState) -> str:
    """``<prefix>/door``: ``locked`` or ``unlocked`` (the lock's state topic)."""
    return state.value


def presence(present: bool) -> str:
    """``<prefix>/presence``: ``ON`` while a face is in front of the camera (a binary sensor's default payloads)."""
    return "ON" if present else "OFF"


def health(camera_online: bool) -> str:
    """``<prefix>/health``: whether frames arrive, and the broker link (online whenever it can be read)."""
    return json.dumps({"camera": "online" if camera_online else "offline", "broker": "online"}, sort_keys=True)
