"""Remote commands: strict parsing of MQTT command payloads, and signed unlocks.

Pure parsing functions, one small stateful checker (:class:`UnlockAuth`, which remembers nonces)
and :class:`CommandInbox`, the bounded queue between the thread that receives commands (paho's, in
:mod:`edgeface.mqtt.client`) and the service's loop, which alone acts on them. No network I/O here.

Payloads (at most :data:`MAX_COMMAND_BYTES` bytes of UTF-8 JSON; an empty payload means ``{}``)::

    <prefix>/cmd/unlock   {} or {"seconds": n}, 0 < n <= 86400, clamped to mqtt.remote_unlock.max_seconds
    <prefix>/cmd/reload   {}

Signed unlocks
    With a shared secret (``mqtt.remote_unlock.secret`` or ``$EDGEFACE_UNLOCK_SECRET``, at least 16
    characters) every unlock must carry a timestamp, a nonce and an HMAC, and nothing else::

        {"seconds": 5, "ts": 1767225600, "nonce": "9b1c2f0e6a7d4e85", "hmac": "<64 hex digits>"}

    ``seconds`` is optional as before. ``ts`` is an integer: Unix time in seconds (UTC). ``nonce`` is 8 to
    64 characters of ``A-Z a-z 0-9 _ -``, never reused (a random 128-bit value in hex is right). ``hmac``
    is HMAC-SHA256 with the secret's UTF-8 bytes as key, over the UTF-8 bytes of the *canonical message*,
    in hexadecimal (either case). The canonical message is these five lines joined by ``\\n``, with no
    newline at the end::

        edgeface-unlock-v1
        <topic>      the full topic the command is published to, e.g. edgeface/door1/cmd/unlock
        <seconds>    the seconds value exactly as written in the JSON (e.g. 5 or 2.5), empty if absent
        <ts>         the ts value as written in the JSON
        <nonce>      the nonce

    A sender in Python::

        ts, nonce = int(time.time()), secrets.token_hex(16)
        message = f"edgeface-unlock-v1\\n{topic}\\n5\\n{ts}\\n{nonce}"
        mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        payload = f'{{"seconds": 5, "ts": {ts}, "nonce": "{nonce}", "hmac": "{mac}"}}'

    The topic binds a command to one door and one command, so a command signed for another door (that
    shares the secret) is refused. A command is refused when its signature is wrong, when ``ts`` is more
    than ``max_age_seconds`` in the past (stale) or in the future (the sender's or the door's clock is
    wrong: a Raspberry Pi has no real-time clock, and before NTP sets it every signed command is refused),
    and when its nonce was accepted before within that time (a replay). Nonces are remembered only once a
    command's signature has been checked, so nobody without the secret can fill that memory.
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
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from edgeface.config import RemoteUnlockConfig
from edgeface.config.mqtt import secret_problem
from edgeface.errors import CommandError

__all__ = [
    "MAX_COMMAND_BYTES",
    "Command",
    "CommandError",
    "CommandInbox",
    "CommandName",
    "ReloadCommand",
    "UnlockAuth",
    "UnlockCommand",
    "canonical_unlock",
    "parse_reload",
    "parse_unlock",
    "sign_unlock",
]

MAX_COMMAND_BYTES = 1024
"""Larger command payloads are rejected before decoding."""
MAX_REQUEST_SECONDS = 86_400.0
"""An unlock asking for more than a day is nonsense, not a request to clamp."""
CANONICAL_PREFIX = "edgeface-unlock-v1"
COMMAND_QUEUE_SIZE = 32
"""Commands beyond this many waiting are dropped, so a flood cannot queue up door openings."""
MAX_NONCES = 4096
"""Signed commands remembered at once; more within ``max_age_seconds`` are refused (fail closed)."""
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_UNSIGNED_FIELDS = frozenset({"seconds"})
_SIGNED_FIELDS = frozenset({"seconds", "ts", "nonce", "hmac"})


@dataclass(frozen=True)
class UnlockCommand:
    seconds: float | None = None
    """How long to unlock, already clamped to ``remote_unlock.max_seconds``; None = the relay's pulse."""


@dataclass(frozen=True)
class ReloadCommand:
    """Reload the configuration and the gallery."""


Command: TypeAlias = UnlockCommand | ReloadCommand
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
    # One comparison also rejects inf (JSON's 1e999) and anything NaN-like.
    if not 0.0 < value <= MAX_REQUEST_SECONDS:
        raise CommandError(f"seconds must be more than 0 and at most {MAX_REQUEST_SECONDS:g}, not {_show(value)}")
    return min(value, max_seconds)


def parse_unlock(payload: bytes, max_seconds: float) -> UnlockCommand:
    """Parse an unsigned ``cmd/unlock`` payload: empty, ``{}`` or ``{"seconds": n}`` with 0 < n <= 86400.

    ``seconds`` is clamped to ``max_seconds``. Raises :class:`CommandError` saying what is wrong.
    """
    data = _json_object(payload)
    if data.keys() & (_SIGNED_FIELDS - _UNSIGNED_FIELDS):
        _only(data, _UNSIGNED_FIELDS, "a signed unlock, but no secret is set (mqtt.remote_unlock.secret)")
    _only(data, _UNSIGNED_FIELDS, "only 'seconds' is allowed")
    return UnlockCommand(_seconds(data, max_seconds))


def parse_reload(payload: bytes) -> ReloadCommand:
    """Parse a ``cmd/reload`` payload: empty or ``{}``. Raises :class:`CommandError` otherwise."""
    data = _json_object(payload)
    if data:
        raise CommandError(f"unknown field {', '.join(_show(k) for k in sorted(data))}; reload takes none")
    return ReloadCommand()


def canonical_unlock(topic: str, seconds: str, ts: str, nonce: str) -> str:
    """The message a signed unlock's ``hmac`` covers (see the module docstring)."""
    return "\n".join((CANONICAL_PREFIX, topic, seconds, ts, nonce))


def sign_unlock(secret: str, topic: str, *, ts: int, nonce: str, seconds: str | None = None) -> bytes:
    """A signed ``cmd/unlock`` payload (for senders, tools and tests); ``seconds`` as the JSON text to send."""
    message = canonical_unlock(topic, seconds or "", str(ts), nonce)
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    fields = ([f'"seconds": {seconds}'] if seconds is not None else []) + [
        f'"ts": {ts}',
        f'"nonce": {json.dumps(nonce)}',
        f'"hmac": "{mac}"',
    ]
    return ("{" + ", ".join(fields) + "}").encode()


class UnlockAuth:
    """Checks signed unlocks for one command topic: signature, freshness, and that no nonce comes twice.

    Not thread-safe: one thread (paho's network thread) offers every command.
    """

    def __init__(
        self,
        secret: str,
        topic: str,
        *,
        max_age_seconds: float,
        clock: Callable[[], float] = time.time,
        max_nonces: int = MAX_NONCES,
    ) -> None:
        if problem := secret_problem(secret):
            raise ValueError(f"the unlock secret {problem}")
        self._key = secret.encode()
        self.topic = topic
        self.max_age = max_age_seconds
        self._clock = clock
        self._max_nonces = max_nonces
        self._seen: dict[str, float] = {}  # nonce -> when it may be forgotten (its ts + max_age)

    def parse(self, payload: bytes, max_seconds: float) -> UnlockCommand:
        """The command if ``payload`` is a valid, fresh, first-seen signed unlock; CommandError otherwise."""
        data = _json_object(payload)
        _only(data, _SIGNED_FIELDS, "a signed unlock has seconds, ts, nonce and hmac")
        missing = [k for k in ("ts", "nonce", "hmac") if k not in data]
        if missing:
            raise CommandError(f"not signed (no {', '.join(missing)}); remote unlock requires a signed command")
        ts, nonce, mac = data["ts"], data["nonce"], data["hmac"]
        if not isinstance(ts, _Number) or not re.fullmatch(r"-?\d{1,12}", ts):
            raise CommandError(f"ts must be an integer number of seconds, not {_show(ts)}")
        if not isinstance(nonce, str) or isinstance(nonce, _Number) or not _NONCE.match(nonce):
            raise CommandError(f"nonce must be 8-64 characters of A-Z a-z 0-9 _ -, not {_show(nonce)}")
        if not isinstance(mac, str) or isinstance(mac, _Number) or not _HEX_DIGEST.match(mac):
            raise CommandError(f"hmac must be 64 hexadecimal digits, not {_show(mac)}")
        seconds = _seconds(data, max_seconds)
        seconds_text = data.get("seconds", "")
        message = canonical_unlock(self.topic, seconds_text, ts, nonce).encode()
        expected = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, mac.lower()):
            raise CommandError("bad signature (wrong secret, or a field changed after signing)")
        now = self._clock()
        age = now - int(ts)
        if age > self.max_age:
            raise CommandError(f"stale: signed {age:.0f} s ago, more than {self.max_age:g} s (a replay?)")
        if -age > self.max_age:
            raise CommandError(f"signed {-age:.0f} s in the future: check the clocks of the sender and the door")
        self._seen = {n: until for n, until in self._seen.items() if until >= now}
        if nonce in self._seen:
            raise CommandError(f"replayed nonce {_show(nonce)}")
        if len(self._seen) >= self._max_nonces:
            raise CommandError(f"more than {self._max_nonces} signed commands within {self.max_age:g} s")
        self._seen[nonce] = int(ts) + self.max_age
        return UnlockCommand(seconds)


class CommandInbox:
    """Commands accepted on a network thread, waiting for the service's thread."""

    def __init__(
        self,
        remote_unlock: RemoteUnlockConfig,
        unlock_topic: str,
        *,
        log: logging.Logger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``log`` is the owner's logger (each dropped command is one warning line there)."""
        self._log = log
        self._unlock_enabled = remote_unlock.enabled
        self._max_seconds = remote_unlock.max_seconds
        self._queue: queue.Queue[Command] = queue.Queue(maxsize=COMMAND_QUEUE_SIZE)
        self._auth: UnlockAuth | None = None
        self.accepted = 0
        self.dropped = 0
        secret = remote_unlock.shared_secret() if remote_unlock.enabled else None
        if secret is not None:
            self._auth = UnlockAuth(secret, unlock_topic, max_age_seconds=remote_unlock.max_age_seconds, clock=clock)
        elif remote_unlock.enabled:
            self._log.warning(
                "remote unlock is enabled without a shared secret: anyone who may publish to %s can open the "
                "door; set mqtt.remote_unlock.secret (or EDGEFACE_UNLOCK_SECRET) to require signed commands",
                unlock_topic,
            )

    @property
    def signed(self) -> bool:
        """Whether unlocks must be signed."""
        return self._auth is not None

    def offer(self, name: CommandName, payload: bytes, *, retained: bool = False) -> Command | None:
        """Parse, check and queue one command; log one line and return None if it is dropped."""
        command: Command
        try:
            if retained:
                raise CommandError("it is a retained message; commands must not be retained")
            if name == "unlock":
                if not self._unlock_enabled:
                    raise CommandError("remote unlock is disabled (mqtt.remote_unlock.enabled)")
                if self._auth is not None:
                    command = self._auth.parse(payload, self._max_seconds)
                else:
                    command = parse_unlock(payload, self._max_seconds)
            else:
                command = parse_reload(payload)
            self._queue.put_nowait(command)
        except CommandError as exc:
            self.dropped += 1
            self._log.warning("ignoring MQTT command %s: %s", name, exc)
            return None
        except queue.Full:
            self.dropped += 1
            self._log.warning("ignoring MQTT command %s: %d commands are already waiting", name, COMMAND_QUEUE_SIZE)
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
