"""Home Assistant discovery: the payloads follow its MQTT schema and name only topics the daemon publishes."""

from __future__ import annotations

import json

import pytest

from edgeface.mqtt.discovery import announcements, entities, removals
from edgeface.mqtt.topics import Topics

# The keys Home Assistant's MQTT integration documents for each component we announce:
# required ones, and every one it accepts (an unknown key makes HA reject the config).
_COMMON = {
    "name", "unique_id", "device", "availability_topic", "payload_available", "payload_not_available", "icon",
    "state_topic", "value_template", "json_attributes_topic",
}  # fmt: skip
HA_SCHEMA = {
    "lock": (
        {"command_topic", "unique_id", "device"},
        _COMMON | {"command_topic", "payload_lock", "payload_unlock", "state_locked", "state_unlocked", "optimistic"},
    ),
    "sensor": ({"state_topic", "unique_id", "device"}, _COMMON | {"device_class", "unit_of_measurement"}),
    "binary_sensor": ({"state_topic", "unique_id", "device"}, _COMMON | {"device_class", "payload_on", "payload_off"}),
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}


@pytest.mark.parametrize("remote_unlock", [True, False])
def test_discovery_payloads_follow_home_assistants_schema_and_our_topics(remote_unlock: bool) -> None:
    topics = Topics("edgeface/front")
    published = {topics.event, topics.door, topics.availability, topics.presence}
    found = entities("front", "edgeface/front", remote_unlock)
    assert len(found) == 3
    for topic, payload in found.items():
        prefix, component, node, _object_id, tail = topic.split("/")
        assert (prefix, node, tail) == ("homeassistant", "edgeface_front", "config")
        required, allowed = HA_SCHEMA[component]
        assert required <= set(payload), (topic, required - set(payload))
        assert set(payload) <= allowed, (topic, set(payload) - allowed)
        assert set(payload["device"]) <= DEVICE_KEYS and payload["device"]["identifiers"] == ["edgeface_front"]
        assert payload["availability_topic"] == topics.availability
        for key in ("state_topic", "json_attributes_topic"):
            if key in payload:
                assert payload[key] in published, f"{topic}: {key} is not a topic the daemon publishes"
        if "command_topic" in payload:
            assert payload["command_topic"] == topics.command("unlock")
    components = {t.split("/")[1] for t in found}
    assert ("lock" in components) is remote_unlock


def test_announcements_are_json_and_clear_the_other_door_component() -> None:
    made = announcements("front", "edgeface/front", remote_unlock=True)
    assert made[-1].topic.startswith("homeassistant/binary_sensor/") and made[-1].payload == ""
    assert all(json.loads(a.payload) for a in made[:-1])
    assert {r.topic for r in removals("front", "edgeface/front")} >= {a.topic for a in made}
    assert all(r.payload == "" for r in removals("front", "edgeface/front"))
