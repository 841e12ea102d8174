"""``event.edgeface_<id>_decision``: each decision as a Home Assistant event (granted, denied, unknown)."""

from __future__ import annotations

from edgeface.mqtt.entities.base import DoorDevice, Entity, entity
from edgeface.values import EventType

AS_EVENT = "{{ dict(value_json, event_type=value_json.type) | to_json }}"
"""Home Assistant takes ``event_type`` from the payload and the other keys as the event's attributes:
the event JSON with its ``type`` copied there."""


def decision(device: DoorDevice) -> Entity:
    return entity(
        device,
        "event",
        "decision",
        "Decision",
        state_topic=device.topics.event,
        event_types=[kind.value for kind in EventType],
        value_template=AS_EVENT,
        icon="mdi:door",
    )
