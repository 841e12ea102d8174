"""Unsigned LOCKs cannot wear the door down: a flood of them over a real broker neither cuts a face grant's
pulse short, nor crowds out a signed unlock, nor floods the journal (issue 23, item 2)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeface.config import RemoteUnlockConfig
from edgeface.door.controller import LOCKS_PER_MINUTE
from edgeface.mqtt.commands import sign_unlock
from edgeface.ops.enroll import photos_in
from tests.support.broker import Broker
from tests.support.configs import PULSE, service_config
from tests.support.data import DEMO_CLIP, DEMO_FACES
from tests.support.door import running_door
from tests.support.scenes import empty_scene
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

SECRET = "correct horse battery staple"
FLOOD_PER_SECOND = 2000
"""Far more LOCKs than the door's command queue holds between two turns of its loop (32 in ~70 ms)."""


@contextmanager
def lock_flood(broker: Broker, topic: str) -> Iterator[list[int]]:
    """A client of its own publishing ``LOCK`` to ``topic`` at :data:`FLOOD_PER_SECOND` until the block ends;
    yields a one-item list with the number sent so far."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"flood-{uuid.uuid4().hex[:8]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    sent, stop = [0], threading.Event()

    def flood() -> None:
        batch = FLOOD_PER_SECOND // 100
        while not stop.wait(0.01):
            for _ in range(batch):
                client.publish(topic, b"LOCK", qos=0)
            sent[0] += batch

    thread = threading.Thread(target=flood, name="lock-flood", daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join(5)
        client.disconnect()
        client.loop_stop()


def journal(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The INFO (and higher) lines edgeface logged, as the journal gets them without -v."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("edgeface") and r.levelno >= logging.INFO]


def test_a_flood_of_locks_never_cuts_a_face_grant_short(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface")
    cfg = service_config(tmp_path, DEMO_CLIP, broker)
    with running_door(cfg, enrol=photos_in(DEMO_FACES), watch=broker) as door:
        with lock_flood(broker, door.topic("cmd/unlock")) as sent:
            wait_until(lambda: sent[0] > 1000, 10, "the flood under way")
            granted = door.wait_event("granted", 30)
            wait_until(lambda: len(door.pulses()) >= 1, PULSE + 5, "the grant's pulse to end")
        assert granted["person"] is not None
        assert door.pulses()[0] == pytest.approx(PULSE, abs=0.15), "LOCK ended a face grant's pulse"
    lines = journal(caplog)
    locks = [line for line in lines if line.startswith("remote lock:")]
    assert 1 <= len(locks) <= LOCKS_PER_MINUTE, f"{len(locks)} lines about LOCKs"
    assert not [line for line in lines if "command unlock accepted" in line], "a line per LOCK received"
    assert len(lines) < 100, "the flood filled the journal"


def test_a_flood_of_locks_never_drops_a_signed_unlock(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface")
    unlock = RemoteUnlockConfig(enabled=True, max_seconds=60.0, secret=SECRET)
    cfg = service_config(tmp_path, empty_scene(tmp_path / "empty"), broker, remote_unlock=unlock)
    with running_door(cfg, watch=broker) as door:
        topic = door.topic("cmd/unlock")
        with lock_flood(broker, topic) as sent:
            wait_until(lambda: sent[0] > 1000, 10, "the flood under way")
            for _ in range(5):
                nonce = secrets.token_hex(16)
                door.collector.send(topic, sign_unlock(SECRET, topic, ts=int(time.time()), nonce=nonce, seconds="1"))
                time.sleep(0.3)
            wait_until(lambda: len(remote_grants(door.events())) >= 5, 10, "every signed unlock acted on")
            assert sent[0] > 2000
        assert len(remote_grants(door.events())) == 5
    lines = journal(caplog)
    assert not [line for line in lines if "commands are already waiting" in line], "a command was dropped"
    assert len(lines) < 100, "the flood filled the journal"


def remote_grants(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in events if e["type"] == "granted" and e.get("reason") == "remote"]
