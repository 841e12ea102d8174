"""``image.edgeface_<id>_snapshot``: the JPEG face crop of the last decision, only with ``mqtt.snapshot``."""

from __future__ import annotations

from edgeface.mqtt.entities.base import DoorDevice, Entity, entity


def snapshot(device: DoorDevice) -> Entity:
    return entity(
        device,
        "image",
        "snapshot",
        "Snapshot",
        image_topic=device.topics.snapshot,
        content_type="image/jpeg",
    )
