"""What a door can be told to do from outside: the commands the door controller acts on.

Plain values, already checked: :mod:`edgeface.mqtt.commands` parses and verifies MQTT payloads (size,
JSON, signatures, replays) into these, so the door never sees a payload and never imports ``mqtt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["Command", "LockCommand", "ReloadCommand", "UnlockCommand"]


@dataclass(frozen=True)
class UnlockCommand:
    """Unlock the door for a while (a remote unlock)."""

    seconds: float | None = None
    """How long to unlock, already clamped to ``remote_unlock.max_seconds``; None = the relay's pulse."""


@dataclass(frozen=True)
class LockCommand:
    """Lock now: end an unlock in progress."""


@dataclass(frozen=True)
class ReloadCommand:
    """Reload the configuration and the gallery."""


Command: TypeAlias = UnlockCommand | LockCommand | ReloadCommand
