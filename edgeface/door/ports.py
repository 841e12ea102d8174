"""The door's two seams to the outside: where its news goes and where its commands come from.

:class:`EventSink` is the outgoing-events port: every decision, relay change, presence and camera
health report, and the snapshot of the last decision. :class:`CommandSource` is the incoming-commands
port: commands already parsed and verified by whoever received them. The MQTT client
(:class:`edgeface.mqtt.client.MqttPublisher`) is both; :class:`edgeface.mqtt.publisher.MemoryPublisher`
is both in memory, for tests. Defined here, where they are used, so the door never imports a transport.
"""

from __future__ import annotations

from typing import Protocol

from edgeface.door.commands import Command
from edgeface.values import DoorState, Event

__all__ = ["CommandSource", "EventSink"]


class EventSink(Protocol):
    """Where decisions, door changes and the daemon's status reports go."""

    @property
    def connected(self) -> bool:
        """Whether the backend is currently connected to its broker."""
        ...

    def start(self) -> None:
        """Start delivering (connecting in the background); returns at once. What came before waits."""
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


class CommandSource(Protocol):
    """Where remote commands come from, already checked."""

    def commands(self, timeout: float = 0.0) -> list[Command]:
        """Commands received since the last call, oldest first; waits up to ``timeout`` seconds for one."""
        ...
