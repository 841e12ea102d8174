"""The in-memory publisher for tests of its callers: it records what is published and takes commands by MQTT's rules."""

from __future__ import annotations

from edgeface.config import RemoteUnlockConfig
from edgeface.door.commands import ReloadCommand, UnlockCommand
from edgeface.mqtt.publisher import MemoryPublisher, Publisher
from edgeface.values import DoorState
from tests.support.events import make_event

UNLOCK_ON = RemoteUnlockConfig(enabled=True, max_seconds=10.0)


def test_memory_publisher_records_and_applies_the_same_command_rules() -> None:
    publisher: Publisher
    with MemoryPublisher(UNLOCK_ON) as publisher:
        event = make_event()
        publisher.publish_event(event)
        publisher.publish_door(DoorState.UNLOCKED)
        publisher.publish_door(DoorState.LOCKED)
        assert publisher.inject("unlock", b'{"seconds": 99}') == UnlockCommand(10.0)
        assert publisher.inject("unlock", b"{bad") is None
        assert publisher.inject("unlock", b"", retained=True) is None
        assert publisher.inject("reload") == ReloadCommand()
        assert publisher.commands() == [UnlockCommand(10.0), ReloadCommand()]
        assert publisher.commands() == []
        assert publisher.events == [event]
        assert publisher.doors == [DoorState.UNLOCKED, DoorState.LOCKED]
    assert publisher.closed


def test_memory_publisher_refuses_unlock_by_default_like_the_config() -> None:
    publisher = MemoryPublisher()
    assert publisher.inject("unlock") is None
    assert publisher.commands() == []
