"""``lock.edgeface_<id>_door``: the door, when Home Assistant may unlock it (``mqtt.remote_unlock.enabled``)."""

from __future__ import annotations

from edgeface.mqtt.commands import LOCK_PAYLOAD
from edgeface.mqtt.entities.base import DoorDevice, Entity, entity


def door(device: DoorDevice) -> Entity:
    """*Unlock* publishes ``{}`` to ``cmd/unlock``; *Lock* publishes ``LOCK`` there, which ends an unlock early."""
    topics = device.topics
    return entity(
        device,
        "lock",
        "door",
        "Door",
        state_topic=topics.door,
        command_topic=topics.command("unlock"),
        payload_unlock="{}",
        payload_lock=LOCK_PAYLOAD.decode(),
        state_locked="locked",
        state_unlocked="unlocked",
        optimistic=False,
    )
