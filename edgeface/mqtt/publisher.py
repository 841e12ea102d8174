"""The publisher seam: the door's two ports plus discovery, and an in-memory backend for tests.

The door defines what it needs (:mod:`edgeface.door.ports`: an outgoing-events port and an
incoming-commands port); :class:`Publisher` adds what the daemon also asks of MQTT. The MQTT backend
is :class:`edgeface.mqtt.client.MqttPublisher`; :class:`MemoryPublisher` records what the service
publishes and lets a test inject commands through the same parsing and checks as MQTT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol

from edgeface.config import RemoteUnlockConfig
from edgeface.door.commands import Command
from edgeface.door.ports import CommandSource, EventSink
from edgeface.mqtt.commands import CommandName
from edgeface.mqtt.discovery import Announcement
from edgeface.mqtt.inbox import CommandInbox
from edgeface.mqtt.topics import Topics
from edgeface.storage.nonces import NonceLog
from edgeface.values import DoorState, Event

__all__ = ["MemoryPublisher", "Publisher"]

log = logging.getLogger(__name__)


class Publisher(EventSink, CommandSource, Protocol):
    """The whole MQTT seam the daemon holds: both door ports, Home Assistant discovery, and closing."""

    def announce(self, items: Sequence[Announcement]) -> None:
        """Make these the discovery messages (retained), sent now and on every connect."""
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

    def start(self) -> None:
        """Nothing to connect: everything is kept as it is published."""

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
