"""Home Assistant discovery: the payloads follow its MQTT schema and name only topics the daemon publishes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edgeface.config import Config, LivenessConfig, WebConfig
from edgeface.mqtt.discovery import DoorDevice, announcements, entities, removals
from edgeface.mqtt.topics import Topics
from edgeface.values import EventType

# The keys Home Assistant's MQTT integration documents for each component we announce:
# required ones, and every one it accepts (an unknown key makes HA reject the config).
_COMMON = {
    "name", "unique_id", "device", "availability_topic", "payload_available", "payload_not_available", "icon",
    "json_attributes_topic", "entity_category",
}  # fmt: skip
_STATE = _COMMON | {"state_topic", "value_template"}
HA_SCHEMA = {
    "lock": (
        {"command_topic", "unique_id", "device"},
        _STATE | {"command_topic", "payload_lock", "payload_unlock", "state_locked", "state_unlocked", "optimistic"},
    ),
    "sensor": ({"state_topic", "unique_id", "device"}, _STATE | {"device_class", "unit_of_measurement"}),
    "binary_sensor": ({"state_topic", "unique_id", "device"}, _STATE | {"device_class", "payload_on", "payload_off"}),
    "event": ({"state_topic", "event_types", "unique_id", "device"}, _STATE | {"event_types", "device_class"}),
    "image": ({"image_topic", "unique_id", "device"}, _COMMON | {"image_topic", "content_type", "image_encoding"}),
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version", "configuration_url"}
FRONT = DoorDevice("front", "edgeface/front")


@pytest.mark.parametrize("remote_unlock", [True, False])
@pytest.mark.parametrize("snapshot", [True, False])
def test_discovery_payloads_follow_home_assistants_schema_and_our_topics(remote_unlock: bool, snapshot: bool) -> None:
    topics = Topics("edgeface/front")
    published = {topics.event, topics.door, topics.availability, topics.presence, topics.health, topics.snapshot}
    found = entities(replace(FRONT, remote_unlock=remote_unlock, snapshot=snapshot))
    assert len(found) == 5 + snapshot
    for topic, payload in found.items():
        prefix, component, node, _object_id, tail = topic.split("/")
        assert (prefix, node, tail) == ("homeassistant", "edgeface_front", "config")
        required, allowed = HA_SCHEMA[component]
        assert required <= set(payload), (topic, required - set(payload))
        assert set(payload) <= allowed, (topic, set(payload) - allowed)
        assert set(payload["device"]) <= DEVICE_KEYS and payload["device"]["identifiers"] == ["edgeface_front"]
        assert "configuration_url" not in payload["device"]
        assert payload["availability_topic"] == topics.availability
        for key in ("state_topic", "json_attributes_topic", "image_topic"):
            if key in payload:
                assert payload[key] in published, f"{topic}: {key} is not a topic the daemon publishes"
        if "command_topic" in payload:
            assert payload["command_topic"] == topics.command("unlock")
    components = {t.split("/")[1] for t in found}
    assert ("lock" in components) is remote_unlock
    assert ("image" in components) is snapshot


def test_the_entities_are_the_shared_contract() -> None:
    """Entity ids come from the device name and the entity name: ``edgeface_<id>_<slug of name>``."""
    found = entities(replace(FRONT, remote_unlock=True, snapshot=True))
    names = {f"{t.split('/')[1]}.edgeface_front_{p['name'].lower().replace(' ', '_')}": p for t, p in found.items()}
    assert set(names) == {
        "lock.edgeface_front_door",
        "sensor.edgeface_front_last_person",
        "event.edgeface_front_decision",
        "binary_sensor.edgeface_front_face_present",
        "binary_sensor.edgeface_front_camera",
        "image.edgeface_front_snapshot",
    }
    # Unique ids (and so the entities already in people's Home Assistant) are kept.
    assert names["binary_sensor.edgeface_front_face_present"]["unique_id"] == "edgeface_front_face"
    lock = names["lock.edgeface_front_door"]
    assert (lock["payload_lock"], lock["payload_unlock"]) == ("LOCK", "{}")
    assert names["event.edgeface_front_decision"]["event_types"] == [t.value for t in EventType]
    camera = names["binary_sensor.edgeface_front_camera"]
    assert (camera["device_class"], camera["state_topic"]) == ("connectivity", "edgeface/front/health")
    image = names["image.edgeface_front_snapshot"]
    assert (image["image_topic"], image["content_type"]) == ("edgeface/front/snapshot", "image/jpeg")


def test_the_device_links_to_the_live_page_when_it_is_on(tmp_path: Path) -> None:
    off = Config(device_id="front", state_dir=tmp_path)
    assert DoorDevice.from_config(off).configuration_url is None
    on = Config(device_id="front", state_dir=tmp_path, web=WebConfig(enabled=True, address="192.0.2.7", port=8081))
    door = DoorDevice.from_config(on)
    assert door.configuration_url == "http://192.0.2.7:8081/"
    assert all(p["device"]["configuration_url"] == "http://192.0.2.7:8081/" for p in entities(door).values())
    # Port 0 picks a free port: the bound one is the one to link to; a wildcard address names no host.
    wild = Config(device_id="front", state_dir=tmp_path, web=WebConfig(enabled=True, address="0.0.0.0", port=0))
    url = DoorDevice.from_config(wild, web_port=41234).configuration_url
    assert url is not None and url.endswith(":41234/") and "0.0.0.0" not in url


def test_announcements_are_json_and_clear_the_entities_the_door_does_not_have() -> None:
    made = announcements(replace(FRONT, remote_unlock=True))
    cleared = {a.topic for a in made if a.payload == ""}
    assert cleared == {
        "homeassistant/binary_sensor/edgeface_front/door/config",
        "homeassistant/image/edgeface_front/snapshot/config",
    }
    assert all(json.loads(a.payload) for a in made if a.topic not in cleared)
    assert {r.topic for r in removals("front", "edgeface/front")} == {a.topic for a in made}
    assert all(r.payload == "" for r in removals("front", "edgeface/front"))


def test_the_device_says_whether_liveness_is_on_and_at_which_level() -> None:
    def model(cfg: Config) -> object:
        models = {str(e["device"]["model"]) for e in entities(DoorDevice.from_config(cfg)).values()}  # type: ignore[index]
        assert len(models) == 1, "one device, one model"
        return models.pop()

    assert str(model(Config())).endswith(", liveness balanced")
    assert str(model(Config(liveness=LivenessConfig(level="secure")))).endswith(", liveness secure")
    assert str(model(Config(liveness=LivenessConfig(enabled=False)))).endswith(", liveness off")
    assert str(model(Config(liveness=LivenessConfig(threshold=0.3)))).endswith(", liveness threshold 0.3")
