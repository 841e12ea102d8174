"""Remote commands: strict parsing of MQTT command payloads, and signed commands.

The commands themselves are the door's (:mod:`edgeface.door.commands`); this module turns payloads
into them. Pure parsing functions, one small stateful checker (:class:`CommandAuth`, which claims each nonce in a
:class:`~edgeface.storage.nonces.NonceLog`) and :class:`CommandInbox`, the bounded queue between the
thread that receives commands (paho's, in :mod:`edgeface.mqtt.client`) and the service's loop, which
alone acts on them. No network I/O here.

Payloads (at most :data:`MAX_COMMAND_BYTES` bytes of UTF-8 JSON; an empty payload means ``{}``)::

    <prefix>/cmd/unlock   {} or {"seconds": n}, 0.1 <= n <= 86400, clamped to mqtt.remote_unlock.max_seconds;
                          or the plain text LOCK (Home Assistant's lock.lock): end an unlock now
    <prefix>/cmd/reload   {}

LOCK
    ``LOCK`` on ``cmd/unlock`` (exactly those four bytes, surrounding white space aside) ends an unlock
    in progress and re-locks. It needs no signature, even when a secret is set, and is taken whether or
    not remote unlock is enabled: it can only make the door safer, and Home Assistant's *Lock* button
    cannot sign. The worst a sender without the secret can do with it is cut a grant short, which anyone
    standing at the door can do by pulling it shut; it never opens anything. Retained LOCKs are refused
    like every retained command.

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

Refusals
    Each dropped command is one WARNING line, but at most :data:`WARNINGS_PER_PERIOD` per
    :data:`WARNING_PERIOD_SECONDS`: a flood of bad commands is then summed up in one line with its
    count, rather than pushing the journal past its rate limit (which would hide the lines that matter).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import queue
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from edgeface.config import RemoteUnlockConfig
from edgeface.config.base import MIN_SECONDS
from edgeface.config.mqtt import secret_problem
from edgeface.door.commands import Command, LockCommand, ReloadCommand, UnlockCommand
from edgeface.errors import CommandError, NonceLogError
from edgeface.storage.nonces import MemoryNonces, NonceLog

__all__ = [
    "MAX_COMMAND_BYTES",
    "CommandAuth",
    "CommandError",
    "CommandInbox",
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
COMMAND_QUEUE_SIZE = 32
"""Commands beyond this many waiting are dropped, so a flood cannot queue up door openings."""
MAX_NONCES = 4096
"""Signed commands remembered at once; more within ``max_age_seconds`` are refused (fail closed)."""
WARNINGS_PER_PERIOD = 5
WARNING_PERIOD_SECONDS = 60.0
"""At most WARNINGS_PER_PERIOD lines about dropped commands per this many seconds; the rest are counted."""
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


class _Throttle:
    """At most ``burst`` warnings per ``period`` seconds; the rest are counted and summed up in one line."""

    def __init__(self, log: logging.Logger, clock: Callable[[], float], burst: int, period: float) -> None:
        self._log, self._clock, self._burst, self._period = log, clock, burst, period
        self._since = -math.inf
        self._logged = self._held = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if not 0.0 <= now - self._since < self._period:
            if self._held:
                self._log.warning(
                    "ignored %d more MQTT commands in the last %.0f s (not logged one by one)",
                    self._held,
                    now - self._since,
                )
            self._since, self._logged, self._held = now, 0, 0
        if self._logged < self._burst:
            self._logged += 1
            self._log.warning(message + ("" if self._logged < self._burst else "; more are counted, not logged"), *args)
        else:
            self._held += 1


class CommandInbox:
    """Commands accepted on a network thread, waiting for the service's thread."""

    def __init__(
        self,
        remote_unlock: RemoteUnlockConfig,
        topics: dict[CommandName, str],
        *,
        log: logging.Logger,
        nonces: NonceLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``topics`` maps each command to its full topic; ``log`` is the owner's logger (dropped commands are
        warnings there, rate-limited); ``nonces`` keeps the nonces of signed commands (None: in memory only,
        forgotten at exit — the daemon passes its :class:`~edgeface.storage.nonces.NonceFile`)."""
        self._unlock_enabled = remote_unlock.enabled
        self._max_seconds = remote_unlock.max_seconds
        self._queue: queue.Queue[Command] = queue.Queue(maxsize=COMMAND_QUEUE_SIZE)
        self._auth: CommandAuth | None = None
        self._log = log
        self._warn = _Throttle(log, clock, WARNINGS_PER_PERIOD, WARNING_PERIOD_SECONDS)
        self.accepted = 0
        self.dropped = 0
        # The secret signs reloads too, so it applies even with remote unlock off.
        secret = remote_unlock.shared_secret()
        if secret is not None:
            self._auth = CommandAuth(
                secret,
                topics,
                max_age_seconds=remote_unlock.max_age_seconds,
                nonces=nonces if nonces is not None else MemoryNonces(),
                clock=clock,
            )
        elif remote_unlock.enabled:
            log.warning(
                "remote unlock is enabled without a shared secret: anyone who may publish to %s can open the "
                "door; set mqtt.remote_unlock.secret (or EDGEFACE_UNLOCK_SECRET) to require signed commands",
                topics["unlock"],
            )

    @property
    def signed(self) -> bool:
        """Whether commands must be signed."""
        return self._auth is not None

    def offer(self, name: CommandName, payload: bytes, *, retained: bool = False) -> Command | None:
        """Parse, check and queue one command; warn (rate-limited) and return None if it is dropped."""
        command: Command
        try:
            if retained:
                raise CommandError("it is a retained message; commands must not be retained")
            if name == "unlock" and payload.strip() == LOCK_PAYLOAD:
                # Unsigned and always taken: it can only lock (see "LOCK" in the module docstring).
                command = LockCommand()
            elif name == "unlock":
                if not self._unlock_enabled:
                    raise CommandError("remote unlock is disabled (mqtt.remote_unlock.enabled)")
                if self._auth is not None:
                    command = self._auth.unlock(payload, self._max_seconds)
                else:
                    command = parse_unlock(payload, self._max_seconds)
            elif self._auth is not None:
                command = self._auth.reload(payload)
            else:
                command = parse_reload(payload)
            self._queue.put_nowait(command)
        except (CommandError, NonceLogError) as exc:
            # NonceLogError: a nonce that cannot be written down is refused (fail closed).
            self.dropped += 1
            self._warn.warning("ignoring MQTT command %s: %s", name, exc)
            return None
        except queue.Full:
            self.dropped += 1
            self._warn.warning("ignoring MQTT command %s: %d commands are already waiting", name, COMMAND_QUEUE_SIZE)
            return None
        self.accepted += 1
        self._log.info("MQTT command %s accepted: %s", name, command)
        return command

    def take(self, timeout: float = 0.0) -> list[Command]:
        """Every waiting command, oldest first; waits up to ``timeout`` seconds for the first."""
        taken: list[Command] = []
        try:
            taken.append(self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait())
            while True:
                taken.append(self._queue.get_nowait())
        except queue.Empty:
            return taken
