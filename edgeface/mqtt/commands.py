"""Remote commands: strict parsing of MQTT command payloads, and signed commands.

The commands themselves are the door's (:mod:`edgeface.door.commands`); this module turns payloads
into them: pure parsing functions and one small stateful checker (:class:`CommandAuth`, which claims
each nonce in a :class:`~edgeface.storage.nonces.NonceLog`). :mod:`edgeface.mqtt.inbox` queues what
they accept for the service's loop. No network I/O here.

Payloads (at most :data:`MAX_COMMAND_BYTES` bytes of UTF-8 JSON; an empty payload means ``{}``)::

    <prefix>/cmd/unlock   {} or {"seconds": n}, 0.1 <= n <= 86400, clamped to mqtt.remote_unlock.max_seconds;
                          or the plain text LOCK (Home Assistant's lock.lock): end a remote unlock now
    <prefix>/cmd/reload   {}

LOCK
    ``LOCK`` on ``cmd/unlock`` (exactly those four bytes, surrounding white space aside) ends a remote
    unlock in progress and re-locks. It needs no signature, even when a secret is set, and is taken
    whether or not remote unlock is enabled: Home Assistant's *Lock* button cannot sign. It never opens
    anything, and never cuts a face grant's pulse short; the door acts on at most
    :data:`~edgeface.door.controller.LOCKS_PER_MINUTE` a minute, and LOCKs waiting are one, so a flood of
    them neither shortens grants nor crowds out signed commands (:mod:`edgeface.door.controller`,
    :mod:`edgeface.mqtt.inbox`). Retained LOCKs are refused like every retained command.

Signed commands
    With a shared secret (``mqtt.remote_unlock.secret`` or ``$EDGEFACE_UNLOCK_SECRET``, at least 16
    characters) every unlock *and every reload* must carry a timestamp, a nonce and an HMAC, and
    nothing else (a reload also re-reads the people store, so whoever may send one unsigned could
    keep the door busy)::

        {"seconds": 5, "ts": 1767225600, "nonce": "9b1c2f0e6a7d4e85", "hmac": "<64 hex digits>"}
        {"ts": 1767225600, "nonce": "5f0c0a7e3b2d4c19", "hmac": "<64 hex digits>"}      (reload)

    ``seconds`` is optional as before (unlock only). ``ts`` is an integer: Unix time in seconds (UTC).
    ``nonce`` is 8 to 64 characters of ``A-Z a-z 0-9 _ -``, never reused (a random 128-bit value in hex
    is right). ``hmac`` is HMAC-SHA256 with the secret's UTF-8 bytes as key, over the UTF-8 bytes of
    the *canonical message*, in hexadecimal (either case). The canonical message is these five lines
    joined by ``\\n``, with no newline at the end::

        edgeface-unlock-v1   (edgeface-reload-v1 for a reload)
        <topic>      the full topic the command is published to, e.g. edgeface/door1/cmd/unlock
        <seconds>    the seconds value exactly as written in the JSON (e.g. 5 or 2.5), empty if absent
                     (always empty for a reload)
        <ts>         the ts value as written in the JSON
        <nonce>      the nonce

    A sender in Python::

        ts, nonce = int(time.time()), secrets.token_hex(16)
        message = f"edgeface-unlock-v1\\n{topic}\\n5\\n{ts}\\n{nonce}"
        mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        payload = f'{{"seconds": 5, "ts": {ts}, "nonce": "{nonce}", "hmac": "{mac}"}}'

    The first line and the topic bind a command to one door and one command, so a command signed for
    another door (that shares the secret), or an unlock's signature on a reload, is refused. A command
    is refused when its signature is wrong, when ``ts`` is more than ``max_age_seconds`` in the past
    (stale) or more than :data:`MAX_CLOCK_SKEW_SECONDS` in the future (the sender's or the door's clock
    is wrong: a Raspberry Pi has no real-time clock, and before NTP sets it every signed command is
    refused), and when its nonce was accepted before (a replay) — also before a restart: the nonces
    are written to ``nonces.db`` in the state directory, durably, before the command is queued, so no
    signed command is ever acted on twice. Nonces are recorded only once a command's signature has
    been checked, so nobody without the secret can fill that record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from edgeface.config.base import MIN_SECONDS
from edgeface.config.mqtt import secret_problem
from edgeface.door.commands import ReloadCommand, UnlockCommand
from edgeface.errors import CommandError
from edgeface.storage.nonces import NonceLog

__all__ = [
    "MAX_COMMAND_BYTES",
    "CommandAuth",
    "CommandError",
    "CommandName",
    "canonical_reload",
    "canonical_unlock",
    "parse_reload",
    "parse_unlock",
    "sign_reload",
    "sign_unlock",
]

MAX_COMMAND_BYTES = 1024
"""Larger command payloads are rejected before decoding."""
MAX_REQUEST_SECONDS = 86_400.0
"""An unlock asking for more than a day is nonsense, not a request to clamp."""
MAX_CLOCK_SKEW_SECONDS = 5.0
"""How far in the future a signed command's ``ts`` may be (the sender's clock a little ahead of the door's)."""
MAX_NONCES = 4096
"""Signed commands remembered at once; more within ``max_age_seconds`` are refused (fail closed)."""
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_TS = re.compile(r"-?\d{1,12}")
_UNSIGNED_FIELDS = frozenset({"seconds"})
_SIGNED_FIELDS = frozenset({"seconds", "ts", "nonce", "hmac"})
_SIGNED_RELOAD_FIELDS = frozenset({"ts", "nonce", "hmac"})
LOCK_PAYLOAD = b"LOCK"
"""What Home Assistant's MQTT lock sends on ``lock.lock`` (its ``payload_lock``)."""


CommandName = Literal["unlock", "reload"]


class _Number(str):
    """A JSON number kept as the exact text it was written as (the signature covers that text)."""


def _show(value: object) -> str:
    """A short one-line rendering of untrusted input for a log line."""
    text = repr(str(value) if isinstance(value, _Number) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _json_object(payload: bytes) -> dict[str, Any]:
    """An empty payload as ``{}``, else the payload's JSON object with numbers as :class:`_Number`."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"payload of {len(payload)} bytes is over the {MAX_COMMAND_BYTES}-byte limit")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"payload is not UTF-8 (bad byte at {exc.start})") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_int=_Number, parse_float=_Number)
    except (ValueError, RecursionError) as exc:
        raise CommandError(f"payload is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        if isinstance(data, _Number):
            kind = "int" if re.fullmatch(r"-?\d+", data) else "float"
        else:
            kind = type(data).__name__
        raise CommandError(f"payload must be a JSON object, not {kind}")
    return data


def _only(data: dict[str, Any], allowed: frozenset[str], hint: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CommandError(f"unknown field {', '.join(_show(k) for k in unknown)}; {hint}")


def _seconds(data: dict[str, Any], max_seconds: float) -> float | None:
    if "seconds" not in data:
        return None
    seconds = data["seconds"]
    if not isinstance(seconds, _Number):
        raise CommandError(f"seconds must be a number, not {_show(seconds)}")
    try:
        value = float(seconds)
    except (OverflowError, ValueError):
        value = math.inf
    # One comparison also rejects inf (JSON's 1e999), anything NaN-like and 5e-324 (a "0.0 s" unlock).
    if not MIN_SECONDS <= value <= MAX_REQUEST_SECONDS:
        raise CommandError(
            f"seconds must be at least {MIN_SECONDS:g} and at most {MAX_REQUEST_SECONDS:g}, not {_show(value)}"
        )
    return min(value, max_seconds)


def parse_unlock(payload: bytes, max_seconds: float) -> UnlockCommand:
    """Parse an unsigned ``cmd/unlock`` payload: empty, ``{}`` or ``{"seconds": n}`` with 0.1 <= n <= 86400.

    ``seconds`` is clamped to ``max_seconds``. Raises :class:`CommandError` saying what is wrong.
    """
    data = _json_object(payload)
    if data.keys() & (_SIGNED_FIELDS - _UNSIGNED_FIELDS):
        _only(data, _UNSIGNED_FIELDS, "a signed unlock, but no secret is set (mqtt.remote_unlock.secret)")
    _only(data, _UNSIGNED_FIELDS, "only 'seconds' is allowed")
    return UnlockCommand(_seconds(data, max_seconds))


def parse_reload(payload: bytes) -> ReloadCommand:
    """Parse an unsigned ``cmd/reload`` payload: empty or ``{}``. Raises :class:`CommandError` otherwise."""
    data = _json_object(payload)
    if data.keys() & _SIGNED_RELOAD_FIELDS:
        _only(data, frozenset(), "a signed reload, but no secret is set (mqtt.remote_unlock.secret)")
    _only(data, frozenset(), "reload takes none")
    return ReloadCommand()


_CANONICAL_PREFIX: dict[CommandName, str] = {"unlock": "edgeface-unlock-v1", "reload": "edgeface-reload-v1"}


def _canonical(name: CommandName, topic: str, seconds: str, ts: str, nonce: str) -> str:
    return "\n".join((_CANONICAL_PREFIX[name], topic, seconds, ts, nonce))


def canonical_unlock(topic: str, seconds: str, ts: str, nonce: str) -> str:
    """The message a signed unlock's ``hmac`` covers (see the module docstring)."""
    return _canonical("unlock", topic, seconds, ts, nonce)


def canonical_reload(topic: str, ts: str, nonce: str) -> str:
    """The message a signed reload's ``hmac`` covers: an unlock's, with its own first line and no seconds."""
    return _canonical("reload", topic, "", ts, nonce)


def _sign(secret: str, name: CommandName, topic: str, *, ts: int, nonce: str, seconds: str | None) -> bytes:
    message = _canonical(name, topic, seconds or "", str(ts), nonce)
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    fields = ([f'"seconds": {seconds}'] if seconds is not None else []) + [
        f'"ts": {ts}',
        f'"nonce": {json.dumps(nonce)}',
        f'"hmac": "{mac}"',
    ]
    return ("{" + ", ".join(fields) + "}").encode()


def sign_unlock(secret: str, topic: str, *, ts: int, nonce: str, seconds: str | None = None) -> bytes:
    """A signed ``cmd/unlock`` payload (for senders, tools and tests); ``seconds`` as the JSON text to send."""
    return _sign(secret, "unlock", topic, ts=ts, nonce=nonce, seconds=seconds)


def sign_reload(secret: str, topic: str, *, ts: int, nonce: str) -> bytes:
    """A signed ``cmd/reload`` payload (for senders, tools and tests)."""
    return _sign(secret, "reload", topic, ts=ts, nonce=nonce, seconds=None)


class CommandAuth:
    """Checks the signed commands of one door: signature, freshness, and that no nonce is ever accepted twice.

    ``topics`` maps each command to the full topic it arrives on (the signature covers it). Not
    thread-safe: one thread (paho's network thread) offers every command.
    """

    def __init__(
        self,
        secret: str,
        topics: dict[CommandName, str],
        *,
        max_age_seconds: float,
        nonces: NonceLog,
        clock: Callable[[], float] = time.time,
        max_nonces: int = MAX_NONCES,
    ) -> None:
        if problem := secret_problem(secret):
            raise ValueError(f"the unlock secret {problem}")
        self._key = secret.encode()
        self.topics = dict(topics)
        self.max_age = max_age_seconds
        self._nonces = nonces
        self._clock = clock
        self._max_nonces = max_nonces

    def unlock(self, payload: bytes, max_seconds: float) -> UnlockCommand:
        """The command if ``payload`` is a valid, fresh, first-seen signed unlock; CommandError otherwise."""
        data = _json_object(payload)
        _only(data, _SIGNED_FIELDS, "a signed unlock has seconds, ts, nonce and hmac")
        seconds = self._check("unlock", data, lambda: _seconds(data, max_seconds))
        return UnlockCommand(seconds)

    def reload(self, payload: bytes) -> ReloadCommand:
        """The command if ``payload`` is a valid, fresh, first-seen signed reload; CommandError otherwise."""
        data = _json_object(payload)
        _only(data, _SIGNED_RELOAD_FIELDS, "a signed reload has ts, nonce and hmac")
        self._check("reload", data, lambda: None)
        return ReloadCommand()

    def _check(self, name: CommandName, data: dict[str, Any], parse_rest: Callable[[], float | None]) -> float | None:
        """Fields, then signature, then freshness, then the nonce claim (written down before this returns)."""
        missing = [k for k in ("ts", "nonce", "hmac") if k not in data]
        if missing:
            raise CommandError(f"not signed (no {', '.join(missing)}); a secret is set, so {name} must be signed")
        ts, nonce, mac = data["ts"], data["nonce"], data["hmac"]
        if not isinstance(ts, _Number) or not _TS.fullmatch(ts):
            raise CommandError(f"ts must be an integer number of seconds, not {_show(ts)}")
        if not isinstance(nonce, str) or isinstance(nonce, _Number) or not _NONCE.fullmatch(nonce):
            raise CommandError(f"nonce must be 8-64 characters of A-Z a-z 0-9 _ -, not {_show(nonce)}")
        if not isinstance(mac, str) or isinstance(mac, _Number) or not _HEX_DIGEST.fullmatch(mac):
            raise CommandError(f"hmac must be 64 hexadecimal digits, not {_show(mac)}")
        rest = parse_rest()
        message = _canonical(name, self.topics[name], data.get("seconds", ""), ts, nonce).encode()
        expected = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, mac.lower()):
            raise CommandError("bad signature (wrong secret, or a field changed after signing)")
        now = self._clock()
        age = now - int(ts)
        if age > self.max_age:
            raise CommandError(f"stale: signed {age:.0f} s ago, more than {self.max_age:g} s (a replay?)")
        if -age > MAX_CLOCK_SKEW_SECONDS:
            raise CommandError(f"signed {-age:.0f} s in the future: check the clocks of the sender and the door")
        claim = self._nonces.claim(nonce, int(ts) + self.max_age, now=now, limit=self._max_nonces)
        if claim == "replayed":
            raise CommandError(f"replayed nonce {_show(nonce)}")
        if claim == "full":
            raise CommandError(f"more than {self._max_nonces} signed commands within {self.max_age:g} s")
        return rest
