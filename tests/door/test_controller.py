"""The door controller on a real relay (gpiozero's MockFactory) and the in-memory publisher: what a remote LOCK
may end and what it may not, and how often it is acted on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edgeface.config import RelayConfig
from edgeface.daemon.events import EventRecorder
from edgeface.daemon.metrics import Metrics
from edgeface.door.commands import LockCommand, UnlockCommand
from edgeface.door.controller import LOCKS_PER_MINUTE, DoorController
from edgeface.door.relay import DoorRelay
from edgeface.mqtt.publisher import MemoryPublisher
from edgeface.values import Decision, DoorState, EventType
from edgeface.vision.snapshot import face_snapshot
from tests.support.models import make_config
from tests.support.timing import Clock, wait_until

PULSE = 0.4


@dataclass
class Door:
    controller: DoorController
    relay: DoorRelay
    publisher: MemoryPublisher
    metrics: Metrics
    clock: Clock


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Door]:
    cfg = make_config(tmp_path, relay=RelayConfig(pulse_seconds=PULSE, pin_factory="mock"))
    factory, clock, metrics = MockFactory(), Clock(1000.0), Metrics()
    with DoorRelay.from_config(cfg.relay, factory) as relay, MemoryPublisher() as publisher:
        controller = DoorController(
            cfg,
            relay=relay,
            recorder=EventRecorder(cfg.device_id, publisher, metrics),
            events=publisher,
            threshold=lambda: 0.5,
            snapshot=face_snapshot,
            on_limited=lambda what: metrics.rate_limited.labels(what).inc(),
            clock=clock,
        )
        yield Door(controller, relay, publisher, metrics, clock)
    factory.close()


def test_a_lock_ends_a_remote_unlock_at_once(door: Door) -> None:
    door.controller.handle(UnlockCommand(30.0))
    assert door.relay.state is DoorState.UNLOCKED
    door.controller.handle(LockCommand())
    assert door.relay.state is DoorState.LOCKED
    assert [(e.type, e.reason) for e in door.publisher.events] == [(EventType.GRANTED, "remote")]


def test_a_lock_never_cuts_a_face_grants_pulse_short(door: Door, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.daemon.events")
    door.controller.act(Decision(EventType.GRANTED, "lin", 0.9, 3))
    started = time.monotonic()
    door.controller.handle(LockCommand())
    assert door.relay.state is DoorState.UNLOCKED, "a LOCK cut a face grant short"
    wait_until(lambda: door.relay.state is DoorState.LOCKED, PULSE + 2, "the pulse to end")
    assert time.monotonic() - started == pytest.approx(PULSE, abs=0.15)
    assert any("face grant's unlock is never cut short" in m for m in caplog.messages)
    door.clock.now += PULSE  # the grant's pulse is over: a remote unlock after it may be ended again
    door.controller.handle(UnlockCommand(30.0))
    door.controller.handle(LockCommand())
    assert door.relay.state is DoorState.LOCKED


def test_locks_beyond_the_rate_limit_are_dropped_counted_and_logged_once(
    door: Door, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface")
    for _ in range(LOCKS_PER_MINUTE + 30):
        door.controller.handle(LockCommand())
    assert door.metrics.total("rate_limited", what="lock") == 30
    assert len(door.publisher.doors) == LOCKS_PER_MINUTE, "'locked' said again for every LOCK acted on"
    assert sum(m.startswith("remote lock:") for m in caplog.messages) == LOCKS_PER_MINUTE
    assert sum("remote lock rate limit reached" in m for m in caplog.messages) == 1
    door.clock.now += 60.0
    door.controller.handle(UnlockCommand(30.0))
    door.controller.handle(LockCommand())
    assert door.relay.state is DoorState.LOCKED, "LOCK acted on again once the rate dropped"
