"""Fuzzing the remote commands through a real mosquitto into a running daemon.

Whatever arrives on ``cmd/unlock`` — random bytes, huge payloads, wrong JSON types, unknown fields,
negative, tiny and huge durations, signed commands with a field changed, replayed or stale — the
daemon keeps running, the relay moves only for a valid command, and then for the requested time
clamped to ``max_seconds``; payloads too big for the daemon's Maximum Packet Size never reach it.
The expected outcome of each payload comes from the contract written out below, not from the
daemon's own parser.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edgeface.config import RemoteUnlockConfig
from edgeface.mqtt.client import MqttPublisher
from edgeface.mqtt.commands import sign_unlock
from edgeface.mqtt.connection import MAX_PACKET_BYTES
from tests.support.broker import Broker, Collector
from tests.support.configs import PULSE, service_config
from tests.support.door import Door, running_door
from tests.support.scenes import empty_scene
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

MAX_SECONDS = 0.25
TOLERANCE = 0.12
SECRET = "fuzzing-secret-0123456789"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def expected_unlock(payload: bytes) -> float | None:
    """The contract of an unsigned cmd/unlock: how long the door opens, or None for a refused payload.

    One without seconds opens for the relay's own pulse (PULSE), clamped to MAX_SECONDS like the rest.
    """
    if len(payload) > 1024:
        return None
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return min(PULSE, MAX_SECONDS)

    def no_constants(name: str) -> object:
        raise ValueError(name)

    try:
        data = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or set(data) - {"seconds"}:
        return None
    if "seconds" not in data:
        return min(PULSE, MAX_SECONDS)
    seconds = data["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    try:
        value = float(seconds)
    except OverflowError:
        return None
    if not (math.isfinite(value) and 0.1 <= value <= 86_400):  # shorter cannot move a strike
        return None
    return min(value, MAX_SECONDS)


class Fuzzer:
    """Sends one payload at a time and reports what the relay did about it."""

    def __init__(self, door: Door, sender: Collector) -> None:
        self.door, self.sender = door, sender
        assert isinstance(door.service.parts.events, MqttPublisher)
        self.inbox = door.service.parts.events.inbox
        self.loop = next(t for t in threading.enumerate() if t.name == "daemon")

    def send(self, payload: bytes) -> list[float]:
        """Send ``payload`` and return the unlock pulses it caused (after the daemon has dealt with it)."""
        door = self.door
        wait_until(lambda: door.pin.state is False, 5, "the door locked before the next payload")
        door.pin.clear_states()
        seen = self.inbox.accepted + self.inbox.dropped
        handled = door.service.metrics.total("commands")
        accepted = self.inbox.accepted
        self.sender.send(door.topic("cmd/unlock"), payload)
        if len(payload) > MAX_PACKET_BYTES:
            # The daemon told the broker its Maximum Packet Size: the broker drops this, the door never sees it.
            time.sleep(0.3)
            assert self.inbox.accepted + self.inbox.dropped == seen, "a packet over the limit reached the door"
            return door.pulses()
        wait_until(lambda: self.inbox.accepted + self.inbox.dropped > seen, 5, "the daemon to receive it")
        if self.inbox.accepted > accepted:
            wait_until(lambda: door.service.metrics.total("commands") > handled, 5, "the loop to act on it")
            wait_until(lambda: door.pin.state is False and len(door.pin.states) > 1, 5, "the pulse to end")
        assert self.loop.is_alive(), "the daemon's loop died"
        return door.pulses()


@pytest.fixture
def fuzz_door(tmp_path: Path, broker: Broker) -> Iterator[tuple[Door, Collector]]:
    unlock = RemoteUnlockConfig(enabled=True, max_seconds=MAX_SECONDS, per_minute=600)
    cfg = service_config(tmp_path, empty_scene(tmp_path / "camera"), broker, remote_unlock=unlock)
    with running_door(cfg) as door, Collector(broker, [door.topic("door")]) as sender:
        yield door, sender


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
payloads = st.one_of(
    st.binary(max_size=48),
    st.binary(min_size=1020, max_size=1100),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: json.dumps({"seconds": v}).encode()),
    st.integers(-(10**30), 10**30).map(lambda v: json.dumps({"seconds": v}).encode()),
    st.floats(min_value=1e-3, max_value=1.0).map(lambda v: json.dumps({"seconds": v}).encode()),
    json_values.map(lambda v: json.dumps({"seconds": v}).encode()),
    st.dictionaries(st.sampled_from(["seconds", "Seconds", "door", "ts", ""]), json_values, max_size=3).map(
        lambda d: json.dumps(d).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
)


def test_fuzzed_unlock_payloads_pulse_only_when_valid_and_clamped(fuzz_door: tuple[Door, Collector]) -> None:
    fuzzer = Fuzzer(*fuzz_door)
    outcomes: list[bool] = []

    @FUZZ
    @given(payloads)
    @example(b"")
    @example(b'{"seconds": 1e308}')
    @example(b'{"seconds": -0.0}')
    @example(b'{"seconds": 5e-324}')
    @example(b'{"seconds": 86400.0001}')
    @example(b'{"seconds": NaN}')
    @example(b"\x00" * 1_000_000)
    @example(b'{"seconds": 1, "seconds": "x"}')
    def check(payload: bytes) -> None:
        expected = expected_unlock(payload)
        outcomes.append(expected is not None)
        pulses = fuzzer.send(payload)
        if expected is None:
            assert pulses == [], f"{payload[:60]!r} moved the relay"
        else:
            assert len(pulses) == 1, f"{payload[:60]!r} should open the door once, pulses {pulses}"
            assert pulses[0] == pytest.approx(expected, abs=TOLERANCE)
            assert pulses[0] <= MAX_SECONDS + TOLERANCE

    check()
    print(f"unsigned: {sum(outcomes)} valid, {len(outcomes) - sum(outcomes)} refused")
    assert sum(outcomes) >= 5 and len(outcomes) - sum(outcomes) >= 20


@pytest.fixture
def signed_door(tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Door, Collector]]:
    monkeypatch.setenv("EDGEFACE_UNLOCK_SECRET", SECRET)
    unlock = RemoteUnlockConfig(enabled=True, max_seconds=MAX_SECONDS, per_minute=600, max_age_seconds=30)
    cfg = service_config(tmp_path, empty_scene(tmp_path / "camera"), broker, remote_unlock=unlock)
    with running_door(cfg) as door, Collector(broker, [door.topic("door")]) as sender:
        yield door, sender


MUTATIONS = ["none", "seconds", "ts", "nonce", "hmac", "replay", "stale", "future", "extra", "drop_hmac", "topic"]


def test_fuzzed_signed_unlocks_pulse_only_when_authentic_fresh_and_first(
    signed_door: tuple[Door, Collector],
) -> None:
    fuzzer = Fuzzer(*signed_door)
    topic = fuzzer.door.topic("cmd/unlock")
    used: list[tuple[int, str]] = []

    def make(seconds: str | None, mutation: str, n: int) -> tuple[bytes, bool]:
        ts = int(time.time())
        nonce = f"nonce{n:04d}{time.monotonic_ns() % 10**8:08d}"
        if mutation == "replay" and used:
            ts, nonce = used[-1]
        elif mutation == "stale":
            ts -= 120
        elif mutation == "future":
            ts += 120
        signed_for = topic if mutation != "topic" else topic + "x"
        payload = sign_unlock(SECRET, signed_for, ts=ts, nonce=nonce, seconds=seconds)
        data: dict[str, Any] = json.loads(payload)
        if mutation == "seconds":
            data["seconds"] = float(data.get("seconds", 1)) + 1
        elif mutation == "ts":
            data["ts"] += 1
        elif mutation == "nonce":
            data["nonce"] += "x"
        elif mutation == "hmac":
            data["hmac"] = data["hmac"][:-1] + ("0" if data["hmac"][-1] != "0" else "1")
        elif mutation == "extra":
            data["door"] = "all"
        elif mutation == "drop_hmac":
            del data["hmac"]
        if mutation in ("seconds", "ts", "nonce", "hmac", "extra", "drop_hmac"):
            payload = json.dumps(data).encode()
        in_range = seconds is None or 0.1 <= float(seconds) <= 86_400
        valid = in_range and (mutation == "none" or (mutation == "replay" and not used))
        if valid:
            used.append((ts, nonce))
        return payload, valid

    counter = iter(range(10**6))
    outcomes: list[bool] = []

    @FUZZ
    @given(
        st.none() | st.floats(min_value=0.01, max_value=1e6).map(lambda v: f"{v:.3f}") | st.just("2"),
        st.sampled_from(["none"] * 6 + MUTATIONS),
    )
    def check(seconds: str | None, mutation: str) -> None:
        payload, valid = make(seconds, mutation, next(counter))
        outcomes.append(valid)
        pulses = fuzzer.send(payload)
        if not valid:
            assert pulses == [], f"{mutation}: {payload!r} moved the relay"
            return
        expected = min(float(seconds), MAX_SECONDS) if seconds is not None else min(PULSE, MAX_SECONDS)
        assert len(pulses) == 1 and pulses[0] == pytest.approx(expected, abs=TOLERANCE), (mutation, pulses)

    check()
    print(f"signed: {sum(outcomes)} valid, {len(outcomes) - sum(outcomes)} refused")
    assert sum(outcomes) >= 8 and len(outcomes) - sum(outcomes) >= 15
    for junk in (b"", b"{}", b'{"seconds": 1}', b"\xff" * 50):
        assert fuzzer.send(junk) == [], f"unsigned {junk!r} moved the relay"
