"""Remote commands as the daemon parses them: strictly, clamped, with a one-line reason for each refusal.

``cmd/unlock`` takes an empty payload or ``{"seconds": N}``; signed, it also carries a timestamp, a
nonce and an HMAC over the canonical message, and is refused when forged, stale, from the future or
replayed — also after a restart. ``cmd/reload`` takes an empty payload or object, and is signed the
same way when a secret is set.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeface.config import RemoteUnlockConfig
from edgeface.door.commands import LockCommand, ReloadCommand, UnlockCommand
from edgeface.mqtt.commands import (
    MAX_COMMAND_BYTES,
    CommandAuth,
    CommandError,
    canonical_reload,
    canonical_unlock,
    parse_reload,
    parse_unlock,
    sign_reload,
    sign_unlock,
)
from edgeface.mqtt.inbox import COMMAND_QUEUE_SIZE, WARNING_PERIOD_SECONDS, WARNINGS_PER_PERIOD, CommandInbox
from edgeface.storage.nonces import MemoryNonces, NonceFile, NonceLog
from tests.support.timing import Clock

SECRET = "correct horse battery staple"
TOPIC = "edgeface/door1/cmd/unlock"
RELOAD_TOPIC = "edgeface/door1/cmd/reload"
SIGNED_AT = 1_767_225_600
"""2026-01-01T00:00:00Z, when the signed commands below were made."""


@pytest.mark.parametrize(
    ("payload", "seconds"),
    [
        (b"", None),
        (b"  \n", None),
        (b"{}", None),
        (b'{"seconds": 2.5}', 2.5),
        (b'{"seconds": 3}', 3.0),
        (b'{"seconds": 60}', 10.0),  # clamped to max_seconds
        (b'{"seconds": 86400}', 10.0),
    ],
)
def test_parse_unlock_accepts_empty_or_seconds_and_clamps(payload: bytes, seconds: float | None) -> None:
    assert parse_unlock(payload, max_seconds=10.0) == UnlockCommand(seconds)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"unlock please", "not valid JSON"),
        (b"[1]", "must be a JSON object, not list"),
        (b'"5"', "must be a JSON object, not str"),
        (b"5", "must be a JSON object, not int"),
        (b'{"seconds": "5"}', "seconds must be a number, not '5'"),
        (b'{"seconds": true}', "seconds must be a number, not True"),
        (b'{"seconds": null}', "seconds must be a number, not None"),
        (b'{"seconds": [5]}', "seconds must be a number"),
        (b'{"seconds": -1}', "at least 0.1"),
        (b'{"seconds": 0}', "at least 0.1"),
        (b'{"seconds": 5e-324}', "at least 0.1"),
        (b'{"seconds": 0.09}', "at least 0.1"),
        (b'{"seconds": NaN}', "not valid JSON"),
        (b'{"seconds": Infinity}', "not valid JSON"),
        (b'{"seconds": 1e999}', "at most 86400, not inf"),
        (b'{"seconds": 1' + b"0" * 400 + b"}", "at most 86400"),
        (b'{"seconds": 86401}', "at most 86400"),
        (b'{"seconds": 5, "door": "all"}', "unknown field 'door'"),
        (b"\xff\xfe\xfd", "not UTF-8"),
        ('{"seconds": 1}'.encode("utf-16"), "not UTF-8"),
        (b'{"seconds": 5}' + b" " * MAX_COMMAND_BYTES, "over the 1024-byte limit"),
        (b"[" * 1000, "not valid JSON"),
    ],
)
def test_parse_unlock_rejects_malformed_payloads_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(CommandError, match=re.escape(reason)):
        parse_unlock(payload, max_seconds=10.0)


def test_parse_unlock_reasons_are_one_short_line() -> None:
    with pytest.raises(CommandError) as info:
        parse_unlock(b'{"' + b"x\\n" * 200 + b'": 1}', max_seconds=10.0)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 120


@given(st.binary(max_size=1100))
def test_parse_unlock_returns_a_bounded_command_or_a_command_error(payload: bytes) -> None:
    try:
        command = parse_unlock(payload, max_seconds=10.0)
    except CommandError:
        return
    assert command.seconds is None or 0.1 <= command.seconds <= 10.0


@given(st.dictionaries(st.just("seconds"), st.floats(allow_nan=True, allow_infinity=True) | st.integers()))
def test_parse_unlock_never_lets_through_a_bad_number(data: dict[str, float]) -> None:
    try:
        command = parse_unlock(json.dumps(data).encode(), max_seconds=10.0)
    except CommandError:
        return
    assert command.seconds is None or (math.isfinite(command.seconds) and 0.1 <= command.seconds <= 10.0)


def test_parse_reload_takes_an_empty_payload_or_object() -> None:
    assert parse_reload(b"") == parse_reload(b"{}") == ReloadCommand()
    with pytest.raises(CommandError, match="unknown field 'now'"):
        parse_reload(b'{"now": true}')
    with pytest.raises(CommandError, match="not valid JSON"):
        parse_reload(b"reload")


# --- signed unlocks -----------------------------------------------------------------------------------------


def test_the_canonical_message_and_signature_are_the_documented_ones() -> None:
    message = canonical_unlock(TOPIC, "5", "1767225600", "9b1c2f0e6a7d4e85")
    assert message == "edgeface-unlock-v1\nedgeface/door1/cmd/unlock\n5\n1767225600\n9b1c2f0e6a7d4e85"
    payload = sign_unlock(SECRET, TOPIC, ts=1767225600, nonce="9b1c2f0e6a7d4e85", seconds="5")
    assert payload == (
        b'{"seconds": 5, "ts": 1767225600, "nonce": "9b1c2f0e6a7d4e85", '
        b'"hmac": "6a6b407a7bb12748ab732e5ce944017968ee6262eed4ebe4f26cc67365b80961"}'
    )


def auth(clock: Clock, max_age: float = 30.0, nonces: NonceLog | None = None, max_nonces: int = 4096) -> CommandAuth:
    topics = {"unlock": TOPIC, "reload": RELOAD_TOPIC}
    return CommandAuth(
        SECRET,
        topics,
        max_age_seconds=max_age,
        nonces=MemoryNonces() if nonces is None else nonces,
        clock=clock,
        max_nonces=max_nonces,
    )


def signed(ts: float = SIGNED_AT, nonce: str = "nonce-0001", seconds: str | None = "5", **kw: str) -> bytes:
    return sign_unlock(kw.get("secret", SECRET), kw.get("topic", TOPIC), ts=int(ts), nonce=nonce, seconds=seconds)


def test_a_signed_unlock_is_accepted_once_and_clamped() -> None:
    clock = Clock(SIGNED_AT)
    checker = auth(clock)
    assert checker.unlock(signed(seconds="5"), max_seconds=3.0) == UnlockCommand(3.0)
    assert checker.unlock(signed(nonce="nonce-0002", seconds=None), max_seconds=3.0) == UnlockCommand(None)
    data = json.loads(signed(nonce="nonce-0003"))
    data["hmac"] = data["hmac"].upper()  # hex digits in either case
    assert checker.unlock(json.dumps(data).encode(), max_seconds=10.0) == UnlockCommand(5.0)


@pytest.mark.parametrize(
    ("payload", "now", "reason"),
    [
        (signed(nonce="nonce-0001"), SIGNED_AT + 31, "stale: signed 31 s ago"),
        (signed(nonce="nonce-0001"), SIGNED_AT - 31, "in the future: check the clocks"),
        (signed(secret="the wrong secret, long enough"), SIGNED_AT, "bad signature"),
        (signed(topic="edgeface/door2/cmd/unlock"), SIGNED_AT, "bad signature"),
        (signed().replace(b'"seconds": 5', b'"seconds": 50'), SIGNED_AT, "bad signature"),
        (signed().replace(b'"seconds": 5', b'"seconds": 5.0'), SIGNED_AT, "bad signature"),
        (signed().replace(b"1767225600", b"1767225601"), SIGNED_AT, "bad signature"),
        (b'{"seconds": 5}', SIGNED_AT, "not signed (no ts, nonce, hmac)"),
        (b"", SIGNED_AT, "not signed"),
        (signed(nonce="short"), SIGNED_AT, "nonce must be 8-64 characters"),
        (signed(nonce="nonce with spaces"), SIGNED_AT, "nonce must be"),
        (signed()[:-3] + b'", "door": 1}', SIGNED_AT, "unknown field 'door'"),
        (signed().replace(b'"ts": 1767225600', b'"ts": 1767225600.5'), SIGNED_AT, "ts must be an integer"),
        (signed().replace(b'"ts": 1767225600', b'"ts": "1767225600"'), SIGNED_AT, "ts must be an integer"),
        (signed(seconds="-1"), SIGNED_AT, "at least 0.1"),
        (signed(nonce="nonce-0001\n"), SIGNED_AT, "nonce must be"),
        (signed().replace(b'"}', b'\\n"}'), SIGNED_AT, "hmac must be 64"),  # a trailing newline
        (signed(nonce="nonce-0001"), SIGNED_AT - 6, "in the future"),
    ],
)
def test_a_forged_stale_or_malformed_signed_unlock_is_refused_with_a_reason(
    payload: bytes, now: float, reason: str
) -> None:
    with pytest.raises(CommandError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        auth(Clock(now)).unlock(payload, max_seconds=10.0)


def test_a_replayed_nonce_is_refused_while_it_could_still_be_fresh() -> None:
    clock = Clock(SIGNED_AT)
    checker = auth(clock)
    first = signed()
    checker.unlock(first, 10.0)
    clock.now += 10
    with pytest.raises(CommandError, match="replayed nonce 'nonce-0001'"):
        checker.unlock(first, 10.0)
    clock.now += 25  # the nonce is forgotten, but the timestamp now says stale: still refused
    with pytest.raises(CommandError, match="stale"):
        checker.unlock(first, 10.0)


def test_the_nonce_memory_is_bounded_and_fails_closed() -> None:
    clock = Clock(SIGNED_AT)
    checker = auth(clock, max_nonces=3)
    for n in range(3):
        checker.unlock(signed(nonce=f"nonce-{n:04d}"), 10.0)
    with pytest.raises(CommandError, match="more than 3 signed commands"):
        checker.unlock(signed(nonce="nonce-0009"), 10.0)
    clock.now += 31  # the remembered nonces expire with their timestamps
    checker.unlock(signed(ts=clock.now, nonce="nonce-0010"), 10.0)


def test_a_signed_unlock_a_few_seconds_ahead_is_accepted_but_not_further() -> None:
    # The sender's clock may run a little ahead; a ts far ahead would keep a captured command fresh for longer.
    assert auth(Clock(SIGNED_AT - 5)).unlock(signed(), 10.0) == UnlockCommand(5.0)
    with pytest.raises(CommandError, match="signed 6 s in the future"):
        auth(Clock(SIGNED_AT - 6)).unlock(signed(), 10.0)


def test_a_captured_unlock_is_refused_after_a_restart_while_still_fresh(tmp_path: Path) -> None:
    clock = Clock(SIGNED_AT)
    captured = signed()
    with NonceFile(tmp_path / "state" / "nonces.db") as nonces:
        assert auth(clock, nonces=nonces).unlock(captured, 10.0) == UnlockCommand(5.0)
    clock.now += 20  # the daemon restarted; the command is still within max_age_seconds
    with NonceFile(tmp_path / "state" / "nonces.db") as nonces:
        with pytest.raises(CommandError, match="replayed nonce 'nonce-0001'"):
            auth(clock, nonces=nonces).unlock(captured, 10.0)
        assert auth(clock, nonces=nonces).unlock(signed(ts=clock.now, nonce="nonce-0002"), 10.0) == UnlockCommand(5.0)


def test_a_nonce_is_on_disk_before_the_command_is_handed_over(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nonces.db"
    with NonceFile(path) as nonces:
        auth(Clock(SIGNED_AT), nonces=nonces).unlock(signed(), 10.0)
        # Read through another connection while the first is still open, as a process killed now would leave it.
        with NonceFile(path) as other:
            assert len(other) == 1


def test_a_nonce_is_kept_past_its_freshness_so_a_clock_stepped_back_cannot_revive_it(tmp_path: Path) -> None:
    clock = Clock(SIGNED_AT)
    with NonceFile(tmp_path / "state" / "nonces.db") as nonces:
        checker = auth(clock, nonces=nonces)
        checker.unlock(signed(), 10.0)
        clock.now += 3600  # stale now; a signed command meanwhile purges what is long forgotten
        checker.unlock(signed(ts=clock.now, nonce="nonce-0002"), 10.0)
        clock.now = SIGNED_AT + 10  # NTP steps the clock back an hour
        with pytest.raises(CommandError, match="replayed nonce 'nonce-0001'"):
            checker.unlock(signed(), 10.0)


def test_the_canonical_reload_differs_from_an_unlock_only_in_its_first_line_and_topic() -> None:
    message = canonical_reload(RELOAD_TOPIC, "1767225600", "9b1c2f0e6a7d4e85")
    assert message == "edgeface-reload-v1\nedgeface/door1/cmd/reload\n\n1767225600\n9b1c2f0e6a7d4e85"


def test_a_signed_reload_is_accepted_once_and_an_unlock_signature_does_not_pass_for_one() -> None:
    clock = Clock(SIGNED_AT)
    checker = auth(clock)
    reload = sign_reload(SECRET, RELOAD_TOPIC, ts=SIGNED_AT, nonce="reload-0001")
    assert checker.reload(reload) == ReloadCommand()
    with pytest.raises(CommandError, match="replayed nonce"):
        checker.reload(reload)
    unlock_signed = sign_unlock(SECRET, RELOAD_TOPIC, ts=SIGNED_AT, nonce="reload-0002")
    with pytest.raises(CommandError, match="bad signature"):
        checker.reload(unlock_signed)
    with pytest.raises(CommandError, match="not signed"):
        checker.reload(b"")


def inbox(clock: Clock, secret: str | None = SECRET) -> tuple[CommandInbox, logging.Logger]:
    log = logging.getLogger("tests.inbox")
    config = RemoteUnlockConfig(enabled=True, secret=secret)
    return CommandInbox(config, {"unlock": TOPIC, "reload": RELOAD_TOPIC}, log=log, clock=clock), log


def test_with_a_secret_an_unsigned_reload_is_dropped_and_a_signed_one_queued() -> None:
    clock = Clock(SIGNED_AT)
    commands, _ = inbox(clock)
    assert commands.offer("reload", b"") is None
    assert commands.offer("reload", sign_reload(SECRET, RELOAD_TOPIC, ts=SIGNED_AT, nonce="reload-0001")) is not None
    assert commands.take() == [ReloadCommand()]
    unsigned, _ = inbox(clock, secret=None)
    assert unsigned.offer("reload", b"{}") == ReloadCommand()


def test_lock_is_taken_unsigned_even_with_a_secret_or_remote_unlock_off_and_never_when_retained() -> None:
    clock = Clock(SIGNED_AT)
    signed, _ = inbox(clock)
    assert signed.offer("unlock", b"LOCK") == LockCommand()
    assert signed.offer("unlock", b" LOCK\n") == LockCommand()  # as a shell's mosquitto_pub -m may send it
    assert signed.offer("unlock", b"{}") is None, "an unsigned unlock is still refused"
    assert signed.offer("unlock", b"LOCK", retained=True) is None
    for near_miss in (b"lock", b"LOCKED", b'"LOCK"', b"UNLOCK"):
        assert signed.offer("unlock", near_miss) is None, near_miss
    off = CommandInbox(
        RemoteUnlockConfig(enabled=False), {"unlock": TOPIC, "reload": RELOAD_TOPIC}, log=logging.getLogger("t")
    )
    assert off.offer("unlock", b"LOCK") == LockCommand()
    assert off.offer("unlock", b"{}") is None
    assert signed.take() == [LockCommand()] and off.take() == [LockCommand()], "LOCKs waiting together are one"
    assert signed.take() == []


def test_a_flood_of_locks_never_crowds_out_a_signed_command() -> None:
    clock = Clock(SIGNED_AT)
    commands, _ = inbox(clock)
    for _ in range(10 * COMMAND_QUEUE_SIZE):
        assert commands.offer("unlock", b"LOCK") == LockCommand()
    unlock = commands.offer("unlock", signed(nonce="flood-0001", seconds="2"))
    assert isinstance(unlock, UnlockCommand)
    assert commands.offer("unlock", b"LOCK") == LockCommand()
    assert commands.take() == [LockCommand(), unlock] and commands.dropped == 0


def test_a_flood_of_bad_commands_logs_a_few_warnings_and_then_their_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(SIGNED_AT)
    commands, _ = inbox(clock)
    with caplog.at_level(logging.WARNING, "tests.inbox"):
        for _ in range(12_000):
            commands.offer("unlock", b"{}")
        assert commands.dropped == 12_000
        lines = [r.getMessage() for r in caplog.records if r.name == "tests.inbox"]
        assert len(lines) == WARNINGS_PER_PERIOD
        assert lines[-1].endswith("more are counted, not logged")
        clock.now += WARNING_PERIOD_SECONDS
        commands.offer("unlock", b"{}")
    lines = [r.getMessage() for r in caplog.records if r.name == "tests.inbox"]
    assert (
        lines[WARNINGS_PER_PERIOD]
        == f"ignored {12_000 - WARNINGS_PER_PERIOD} more MQTT commands in the last 60 s (not logged one by one)"
    )
    assert lines[-1].startswith("ignoring MQTT command unlock: not signed")
