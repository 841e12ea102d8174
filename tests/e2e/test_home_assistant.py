"""A door as the real Home Assistant sees it: its entities, their states, and its lock button.

The pinned Home Assistant core that ``deploy/homeassistant.sh`` installs, onboarded through its own API
with MQTT added through its config flow (:mod:`tests.support.homeassistant`), on the session's broker.
What a Home Assistant owner reads is asserted through ``/api/states``, and the lock is driven through
``/api/services``, as a dashboard button does. Entity ids are docs/home-assistant.md's:
``<domain>.edgeface_<device id>_<name>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeface.config import DecideConfig, RelayConfig, RemoteUnlockConfig
from edgeface.ops.enroll import photos_in
from tests.support.broker import Broker
from tests.support.configs import service_config
from tests.support.data import DEMO_CLIP, DEMO_FACES, LIN
from tests.support.door import Enrolment, running_door
from tests.support.homeassistant import Entities, HomeAssistant, WatchedDoor, watched_door
from tests.support.scenes import empty_scene, still_frames
from tests.support.timing import wait_until

pytestmark = [pytest.mark.homeassistant, pytest.mark.slow]

LONG_PULSE = 60.0
"""The relay's pulse in the lock test: ``lock.lock`` must end it long before it would end by itself."""


def only_lin() -> Enrolment:
    """Lin enrolled from the demo's photos; everyone else in the demo clip is a stranger."""
    return [(person, photo) for person, photo in photos_in(DEMO_FACES) if person == "lin_manuel_miranda"]


@pytest.fixture(scope="module")
def clip_door(
    tmp_path_factory: pytest.TempPathFactory, broker: Broker, home_assistant: HomeAssistant
) -> Iterator[WatchedDoor]:
    """A door on the demo clip with Lin enrolled and remote unlock on, as Home Assistant sees it."""
    cfg = service_config(
        tmp_path_factory.mktemp("clip-door"),
        DEMO_CLIP,
        broker,
        remote_unlock=RemoteUnlockConfig(enabled=True),
        relay=RelayConfig(pulse_seconds=1.5, pin_factory="mock"),
    )
    with watched_door(home_assistant, cfg, broker, enrol=only_lin()) as door:
        yield door


@pytest.mark.parametrize(
    ("entity_id", "attributes"),
    [
        ("lock.edgeface_{device}_door", {"friendly_name": "edgeface {device} Door"}),
        ("sensor.edgeface_{device}_last_person", {"friendly_name": "edgeface {device} Last person"}),
        ("event.edgeface_{device}_decision", {"event_types": ["granted", "denied", "unknown"]}),
        ("binary_sensor.edgeface_{device}_face_present", {"device_class": "occupancy"}),
        ("binary_sensor.edgeface_{device}_camera", {"device_class": "connectivity"}),
    ],
)
def test_home_assistant_creates_each_entity_of_the_door_from_its_discovery(
    clip_door: WatchedDoor, home_assistant: HomeAssistant, entity_id: str, attributes: dict[str, Any]
) -> None:
    device = clip_door.door.cfg.device_id
    # Created from the discovery config, then available once the retained "online" arrives.
    found = home_assistant.wait_available(entity_id.format(device=device), 30)
    expected = {k: v.format(device=device) if isinstance(v, str) else v for k, v in attributes.items()}
    assert {k: found["attributes"].get(k) for k in expected} == expected
    assert home_assistant.errors() == []


def test_the_camera_entity_is_on_while_frames_arrive(clip_door: WatchedDoor, home_assistant: HomeAssistant) -> None:
    home_assistant.wait_state(clip_door.entities.camera, "on", 30)


def test_the_last_person_and_the_decision_event_follow_a_grant_and_a_stranger(
    clip_door: WatchedDoor, home_assistant: HomeAssistant
) -> None:
    entities, states = clip_door.entities, clip_door.states
    clip_door.door.wait_event("granted", 60)
    clip_door.door.wait_event("unknown", 60)
    wait_until(lambda: clip_door.shown(entities.last_person, "lin_manuel_miranda", "granted"), 20, "Lin shown")
    # A stranger is "stranger", not "unknown": that is Home Assistant's own word for a sensor with no value.
    wait_until(lambda: clip_door.shown(entities.last_person, "stranger", "unknown"), 20, "a stranger shown")
    wait_until(lambda: {"granted", "unknown"} <= clip_door.event_types(), 20, "decision events of both types")

    def pulse_shown() -> bool:  # the grant's pulse, on the lock: unlocked, then locked again
        seen = [s["state"] for s in states.history(entities.door)]
        return "unlocked" in seen and "locked" in seen[seen.index("unlocked") :]

    wait_until(pulse_shown, 20, "the grant's pulse on the lock")
    assert home_assistant.errors() == []


def test_a_denial_that_names_the_person_does_not_read_like_a_grant(
    tmp_path: Path, broker: Broker, home_assistant: HomeAssistant
) -> None:
    cfg = service_config(
        tmp_path,
        still_frames(tmp_path / "lin", LIN),
        broker,
        remote_unlock=RemoteUnlockConfig(enabled=True),
        decide=DecideConfig(schedules={"lin_manuel_miranda": []}),  # no access window: always outside it
    )
    with watched_door(home_assistant, cfg, broker, enrol=only_lin()) as door:
        assert door.door.wait_event("denied", 60)["reason"] == "schedule"
        wait_until(lambda: door.shown(door.entities.last_person, "denied: lin_manuel_miranda", "denied"), 20, "denial")
        wait_until(lambda: door.event_types() == {"denied"}, 20, "the denial as an event")
        assert True not in door.door.pin_levels()
    assert home_assistant.errors() == []


def test_lock_unlock_opens_the_relay_and_lock_lock_relocks_it_before_the_pulse_ends(
    tmp_path: Path, broker: Broker, home_assistant: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = service_config(
        tmp_path,
        empty_scene(tmp_path / "empty"),
        broker,
        remote_unlock=RemoteUnlockConfig(enabled=True, max_seconds=LONG_PULSE),
        relay=RelayConfig(pulse_seconds=LONG_PULSE, pin_factory="mock"),
    )
    entities = Entities(cfg.device_id)
    with running_door(cfg, watch=broker) as door:
        home_assistant.wait_state(entities.door, "locked", 30)
        opened = time.monotonic()
        home_assistant.call("lock", "unlock", entity_id=entities.door)
        # The pin goes high a moment before the relay records the change: wait for both, not one then the other.
        wait_until(
            lambda: door.pin.state is True and door.service.health()["door"] == "unlocked", 10, "the relay to open"
        )
        home_assistant.wait_state(entities.door, "unlocked", 10)
        home_assistant.wait_state(entities.last_person, "remote unlock", 10)

        locked_at = time.time()
        home_assistant.call("lock", "lock", entity_id=entities.door)
        wait_until(
            lambda: door.pin.state is False and door.service.health()["door"] == "locked",
            10,
            "lock.lock to release the relay",
        )
        assert time.monotonic() - opened < LONG_PULSE / 2, "the door locked itself at the end of the pulse"
        home_assistant.wait_state(entities.door, "locked", 10)
        assert door.pin_levels()[-2:] == [True, False] and door.pin_levels().count(True) == 1

        def door_topic() -> list[bytes]:
            return [m.payload for m in door.collector.messages(door.topic("door"))]

        wait_until(lambda: door_topic()[-2:] == [b"unlocked", b"locked"], 5, "the door topic to end locked")
    # Home Assistant's LOCK is a command the daemon knows, not a malformed payload to warn about.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.created >= locked_at] == []
    assert home_assistant.errors() == []
