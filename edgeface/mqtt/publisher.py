"""The publisher seam: what the service needs from a publisher, and an in-memory backend for tests.

The MQTT backend is :class:`edgeface.mqtt.client.MqttPublisher`; :class:`MemoryPublisher` records what the
service publishes and lets a test inject commands through the same parsing and checks as MQTT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol

from edgeface.config import RemoteUnlockConfig
from edgeface.mqtt.commands import Command, CommandInbox, CommandName
from edgeface.mqtt.discovery import Announcement
from edgeface.mqtt.topics import Topics
from edgeface.storage.nonces import NonceLog
from edgeface.values import DoorState, Event

# Topics is imported from here by older code; it lives in edgeface.mqtt.topics.
__all__ = ["MemoryPublisher", "Publisher", "Topics"]

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Where decisions and door changes go, and where remote commands come from."""

    @property
    def connected(self) -> bool:
        """Whether the backend is currently connected to its broker."""
        ...

    def publish_event(self, event: Event) -> None:
        """Hand over one decision; returns at once and never loses it (it may be delivered later)."""
        ...

    def publish_door(self, state: DoorState) -> None:
        """Report the relay's new state; call it on every change, and once at start."""
        ...

    def publish_presence(self, present: bool) -> None:
        """Report whether a face is in front of the camera; call it when that changes."""
        ...

    def publish_health(self, camera_online: bool) -> None:
        """Report whether frames arrive from the camera; call it when that changes, and once at start."""
        ...

    def publish_snapshot(self, jpeg: bytes | None) -> None:
        """Report the face crop (JPEG) of the last decision, or None to clear it; kept in memory only."""
        ...

    def announce(self, items: Sequence[Announcement]) -> None:
        """Make these the discovery messages (retained), sent now and on every connect."""
        ...

    def commands(self, timeout: float = 0.0) -> list[Command]:
        """Remote commands received since the last call, oldest first; waits up to ``timeout`` for one."""
        ...

    def close(self) -> None:
        """Say goodbye and release the connection; idempotent."""
        ...


class MemoryPublisher:
    """In-memory backend for tests of callers: records what was published and lets a test inject commands.

    ``inject`` runs the same parsing and checks as MQTT, so a caller's test sees exactly the commands
    the daemon would act on.
    """

    def __init__(
        self,
        remote_unlock: RemoteUnlockConfig | None = None,
        *,
        prefix: str = "edgeface/memory",
        clock: Callable[[], float] = time.time,
        nonces: NonceLog | None = None,
    ) -> None:
        self.events: list[Event] = []
        self.doors: list[DoorState] = []
        self.presence: list[bool] = []
        self.health: list[bool] = []
        self.snapshots: list[bytes | None] = []
        self.announced: list[list[Announcement]] = []
        self.closed = False
        self.topics = Topics(prefix)
        unlock = remote_unlock or RemoteUnlockConfig()
        self._inbox = CommandInbox(unlock, self.topics.commands, log=log, nonces=nonces, clock=clock)

    def __enter__(self) -> MemoryPublisher:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return not self.closed

    @property
    def inbox(self) -> CommandInbox:
        return self._inbox

    def publish_event(self, event: Event) -> None:
        self.events.append(event)

    def publish_door(self, state: DoorState) -> None:
        self.doors.append(state)

    def publish_presence(self, present: bool) -> None:
        self.presence.append(present)

    def publish_health(self, camera_online: bool) -> None:
        self.health.append(camera_online)

    def publish_snapshot(self, jpeg: bytes | None) -> None:
        self.snapshots.append(jpeg)

    def announce(self, items: Sequence[Announcement]) -> None:
        self.announced.append(list(items))

    def inject(self, name: CommandName, payload: bytes = b"", *, retained: bool = False) -> Command | None:
        """Deliver a command as if it arrived on ``<prefix>/cmd/<name>``; returns it, or None if dropped."""
        return self._inbox.offer(name, payload, retained=retained)

    def commands(self, timeout: float = 0.0) -> list[Command]:
        return self._inbox.take(timeout)

    def close(self) -> None:
        self.closed = True
