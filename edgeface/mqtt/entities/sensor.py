"""``sensor.edgeface_<id>_last_person``: who the last decision was about, with the whole event as attributes."""

from __future__ import annotations

from edgeface.mqtt.entities.base import DoorDevice, Entity, entity

LAST_PERSON = (
    "{% if value_json.type == 'unknown' %}stranger"
    "{% elif value_json.type == 'denied' %}denied{{ ': ' ~ value_json.person if value_json.person }}"
    "{% elif value_json.reason == 'remote' %}remote unlock"
    "{% else %}{{ value_json.person }}{% endif %}"
)
"""The name on a grant; ``stranger``, ``denied: <name>`` or ``denied``, and ``remote unlock`` otherwise.

Never ``unknown``: that is Home Assistant's own word for "no value", and a denial must not read like a grant."""


def last_person(device: DoorDevice) -> Entity:
    event = device.topics.event
    return entity(
        device,
        "sensor",
        "last_person",
        "Last person",
        state_topic=event,
        value_template=LAST_PERSON,
        json_attributes_topic=event,
        icon="mdi:face-recognition",
    )
