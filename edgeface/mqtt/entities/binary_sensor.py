"""Binary sensors: the door (without remote unlock), a face in front of the camera, and the camera's health."""

from __future__ import annotations

from edgeface.mqtt.entities.base import DoorDevice, Entity, entity


def door(device: DoorDevice) -> Entity:
    """``binary_sensor.edgeface_<id>_door`` (class ``lock``: on = unlocked), instead of the lock."""
    return entity(
        device,
        "binary_sensor",
        "door",
        "Door",
        state_topic=device.topics.door,
        device_class="lock",
        payload_on="unlocked",
        payload_off="locked",
    )


def face_present(device: DoorDevice) -> Entity:
    """``binary_sensor.edgeface_<id>_face_present``: ON while a face is in front of the camera.

    Its unique id and discovery topic keep the object id ``face`` they were first announced with.
    """
    return entity(
        device,
        "binary_sensor",
        "face",
        "Face present",
        state_topic=device.topics.presence,
        payload_on="ON",
        payload_off="OFF",
        device_class="occupancy",
    )


def camera(device: DoorDevice) -> Entity:
    """``binary_sensor.edgeface_<id>_camera`` (connectivity): ON while frames arrive; the health JSON as attributes."""
    health = device.topics.health
    return entity(
        device,
        "binary_sensor",
        "camera",
        "Camera",
        state_topic=health,
        value_template="{{ 'ON' if value_json.camera == 'online' else 'OFF' }}",
        payload_on="ON",
        payload_off="OFF",
        json_attributes_topic=health,
        device_class="connectivity",
        entity_category="diagnostic",
    )
