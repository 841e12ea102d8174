"""The command inbox: commands routed from their topics, checked, and queued for the service's loop.

Paho's network thread hands every message on a command topic to :meth:`CommandInbox.route`; the
inbox parses and checks it (:mod:`edgeface.mqtt.commands`: strict parsing, and the signature,
freshness and nonce checks of signed commands) and puts the valid ones on a bounded thread-safe
queue, which the service drains from its own loop (:meth:`CommandInbox.take`) and acts on there,
rate limits included, so only the service's thread ever touches the relay.

LOCK
    Every waiting ``LOCK`` is one: a flood of them (they need no signature) takes no room in the queue
    that signed commands wait in, so none of those is ever dropped for them (nor its nonce burned), and
    costs no journal line here (the door logs what a LOCK did, rate-limited). A waiting LOCK is handed
    over first, before the commands queued in the same turn of the loop.

Refusals
    Each dropped command is one WARNING line, but at most :data:`WARNINGS_PER_PERIOD` per
    :data:`WARNING_PERIOD_SECONDS`: a flood of bad commands is then summed up in one line with its
    count, rather than pushing the journal past its rate limit (which would hide the lines that matter).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from edgeface.config import RemoteUnlockConfig
from edgeface.door.commands import Command, LockCommand
from edgeface.errors import CommandError, NonceLogError
from edgeface.mqtt.commands import LOCK_PAYLOAD, CommandAuth, CommandName, parse_reload, parse_unlock
from edgeface.mqtt.throttle import WarningThrottle
from edgeface.storage.nonces import MemoryNonces, NonceLog

__all__ = ["COMMAND_QUEUE_SIZE", "WARNINGS_PER_PERIOD", "WARNING_PERIOD_SECONDS", "CommandInbox"]

COMMAND_QUEUE_SIZE = 32
"""Commands beyond this many waiting are dropped, so a flood cannot queue up door openings."""
WARNINGS_PER_PERIOD = 5
WARNING_PERIOD_SECONDS = 60.0
"""At most WARNINGS_PER_PERIOD lines about dropped commands per this many seconds; the rest are counted."""


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
        self._names: dict[str, CommandName] = {topic: name for name, topic in topics.items()}
        self._unlock_enabled = remote_unlock.enabled
        self._max_seconds = remote_unlock.max_seconds
        self._queue: queue.Queue[Command] = queue.Queue(maxsize=COMMAND_QUEUE_SIZE)
        self._lock_waiting = threading.Event()
        self._auth: CommandAuth | None = None
        self._log = log
        self._warn = WarningThrottle(log, clock, WARNINGS_PER_PERIOD, WARNING_PERIOD_SECONDS, what="MQTT commands")
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
    def topics(self) -> list[str]:
        """The topics commands arrive on (what to subscribe to)."""
        return list(self._names)

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
                self._lock_waiting.set()
                self.accepted += 1
                return LockCommand()
            if name == "unlock":
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

    def route(self, topic: str, payload: bytes, *, retained: bool) -> None:
        """:meth:`offer` a message that arrived on ``topic``, if that is one of the command topics."""
        name = self._names.get(topic)
        if name is not None:
            self.offer(name, payload, retained=retained)

    def take(self, timeout: float = 0.0) -> list[Command]:
        """Every waiting command: a LOCK first (many waiting are one), then the others oldest first; waits up
        to ``timeout`` seconds for the first."""
        taken: list[Command] = []
        try:
            wait = timeout > 0 and not self._lock_waiting.is_set()
            taken.append(self._queue.get(timeout=timeout) if wait else self._queue.get_nowait())
            while True:
                taken.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if self._lock_waiting.is_set():
            self._lock_waiting.clear()
            taken.insert(0, LockCommand())
        return taken
