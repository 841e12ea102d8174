"""A door as the real Home Assistant sees it: its entities, their states, and its lock button.

The pinned Home Assistant core that ``deploy/homeassistant.sh`` installs, onboarded through its own API
with MQTT added through its config flow (:mod:`tests.support.homeassistant`), on the session's broker.
What a Home Assistant owner reads is asserted through ``/api/states``, and the lock is driven through
``/api/services``, as a dashboard does. Entity ids follow the device name "edgeface <id>" (Home
Assistant's has_entity_name naming), which is what the README's automations refer to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeface.capture.camera import Camera
from edgeface.config import RelayConfig, RemoteUnlockConfig
from edgeface.ops.enroll import photos_in
from tests.support.broker import Broker
from tests.support.configs import service_config
from tests.support.data import DEMO_CLIP, DEMO_FACES
from tests.support.door import Door, running_door
from tests.support.homeassistant import HeldCamera, HomeAssistant, StateLog
from tests.support.scenes import empty_scene
from tests.support.timing import wait_until

log = logging.getLogger(__name__)

pytestmark = pytest.mark.homeassistant

LONG_PULSE = 60.0
"""The relay's pulse for the lock test: ``lock.lock`` must end it long before it would end by itself."""


@dataclass(frozen=True)
class Entities:
    """The entity ids Home Assistant gives one door's discovery (the README's contract)."""

    device: str

    def id(self, domain: str, name: str) -> str:
        return f"{domain}.edgeface_{self.device}_{name}"

    @property
    def door(self) -> str:
        return self.id("lock", "door")

    @property
    def last_person(self) -> str:
        return self.id("sensor", "last_person")

    @property
    def decision(self) -> str:
        return self.id("event", "decision")

    @property
    def face(self) -> str:
        return self.id("binary_sensor", "face_present")

    @property
    def camera(self) -> str:
        return self.id("binary_sensor", "camera")

    def all(self) -> list[str]:
        return [self.door, self.last_person, self.decision, self.face, self.camera]


@dataclass(frozen=True)
class WatchedDoor:
    door: Door
    entities: Entities
    states: StateLog


@pytest.fixture(scope="module")
def clip_door(
    tmp_path_factory: pytest.TempPathFactory, broker: Broker, home_assistant: HomeAssistant
) -> Iterator[WatchedDoor]:
    """A door on the demo clip with Lin enrolled (everyone else in it is a stranger) and remote unlock on,
    its entities' states logged from Home Assistant. Its camera shows the clip once Home Assistant has
    the door's entities, so that Home Assistant sees every decision."""
    cfg = service_config(
        tmp_path_factory.mktemp("clip-door"),
        DEMO_CLIP,
        broker,
        remote_unlock=RemoteUnlockConfig(enabled=True),
        relay=RelayConfig(pulse_seconds=1.5, pin_factory="mock"),
    )
    entities = Entities(cfg.device_id)
    enrolled = [(person, photo) for person, photo in photos_in(DEMO_FACES) if person == "lin_manuel_miranda"]
    cameras: list[HeldCamera] = []

    def held(camera: Camera) -> Camera:
        cameras.append(HeldCamera(camera))
        return cameras[0]

    with (
        StateLog(home_assistant, entities.all()) as states,
        running_door(cfg, enrol=enrolled, watch=broker, wrap_camera=held) as door,
    ):
        try:
            wait_until(lambda: all(home_assistant.available(e) for e in entities.all()), 30, "the door's entities")
        except AssertionError:
            log.warning("not every entity of the door is in Home Assistant: the entity tests say which")
        cameras[0].release()
        yield WatchedDoor(door, entities, states)


def shown(door: WatchedDoor, entity_id: str, state: str, kind: str) -> bool:
    """Whether Home Assistant showed ``state`` for ``entity_id`` with the id of an event of type ``kind``
    among its attributes (any of them: events that follow at once hide each other between polls)."""
    ids = {e["id"] for e in door.door.events() if e["type"] == kind}
    return any(s["state"] == state and s["attributes"].get("id") in ids for s in door.states.history(entity_id))


@pytest.mark.parametrize(
    ("entity", "domain", "attributes"),
    [
        ("door", "lock", {"friendly_name": "edgeface {device} Door"}),
        ("last_person", "sensor", {"friendly_name": "edgeface {device} Last person"}),
        ("decision", "event", {"event_types": ["granted", "denied", "unknown"]}),
        ("face", "binary_sensor", {"friendly_name": "edgeface {device} Face present", "device_class": "occupancy"}),
        ("camera", "binary_sensor", {"device_class": "connectivity"}),
    ],
)
def test_home_assistant_creates_each_entity_of_the_door_from_its_discovery(
    clip_door: WatchedDoor, home_assistant: HomeAssistant, entity: str, domain: str, attributes: dict[str, Any]
) -> None:
    entity_id = getattr(clip_door.entities, entity)
    assert entity_id.startswith(f"{domain}.")
    # Created from the discovery config, then available once the retained "online" arrives.
    found = home_assistant.wait_available(entity_id, 30)
    expected = {
        k: v.format(device=clip_door.door.cfg.device_id) if isinstance(v, str) else v for k, v in attributes.items()
    }
    assert {k: found["attributes"].get(k) for k in expected} == expected
    assert home_assistant.setup_errors() == []


def test_the_camera_entity_is_on_while_frames_arrive(clip_door: WatchedDoor, home_assistant: HomeAssistant) -> None:
    home_assistant.wait_state(clip_door.entities.camera, "on", 30)


def test_the_last_person_and_the_decision_event_follow_a_grant_and_a_stranger(clip_door: WatchedDoor) -> None:
    entities, states = clip_door.entities, clip_door.states
    clip_door.door.wait_event("granted", 60)
    clip_door.door.wait_event("unknown", 60)
    wait_until(lambda: shown(clip_door, entities.last_person, "lin_manuel_miranda", "granted"), 20, "Lin shown")
    # A stranger is "stranger", not "unknown": that is Home Assistant's own word for a sensor with no value.
    wait_until(lambda: shown(clip_door, entities.last_person, "stranger", "unknown"), 20, "a stranger shown")

    def event_types() -> set[str]:
        return {s["attributes"].get("event_type") for s in states.history(entities.decision)}

    wait_until(lambda: {"granted", "unknown"} <= event_types(), 20, "decision events of both types")

    def pulse_shown() -> bool:  # the grant's pulse, on the lock: unlocked, then locked again
        seen = [s["state"] for s in states.history(entities.door)]
        return "unlocked" in seen and "locked" in seen[seen.index("unlocked") :]

    wait_until(pulse_shown, 20, "the grant's pulse on the lock")


def test_lock_unlock_opens_the_relay_and_lock_lock_relocks_it_before_the_pulse_ends(
    tmp_path: Path, broker: Broker, home_assistant: HomeAssistant
) -> None:
    cfg = service_config(
        tmp_path,
        empty_scene(tmp_path / "empty"),
        broker,
        remote_unlock=RemoteUnlockConfig(enabled=True, max_seconds=LONG_PULSE),
        relay=RelayConfig(pulse_seconds=LONG_PULSE, pin_factory="mock"),
    )
    lock = Entities(cfg.device_id).door
    with running_door(cfg, watch=broker) as door:
        home_assistant.wait_state(lock, "locked", 30)
        opened = time.monotonic()
        home_assistant.call("lock", "unlock", entity_id=lock)
        wait_until(lambda: door.pin.state is True, 10, "the relay to open")
        assert door.service.health()["door"] == "unlocked"
        home_assistant.wait_state(lock, "unlocked", 10)
        home_assistant.wait_state(Entities(cfg.device_id).last_person, "remote unlock", 10)

        home_assistant.call("lock", "lock", entity_id=lock)
        wait_until(lambda: door.pin.state is False, 10, "lock.lock to release the relay")
        assert time.monotonic() - opened < LONG_PULSE / 2, "the door locked itself at the end of the pulse"
        assert door.service.health()["door"] == "locked"
        home_assistant.wait_state(lock, "locked", 10)
        assert door.pin_levels()[-2:] == [True, False] and door.pin_levels().count(True) == 1
        assert [m.payload for m in door.collector.messages(door.topic("door"))][-2:] == [b"unlocked", b"locked"]
