"""What every entity's discovery config shares: the door it belongs to, its device and its availability."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from edgeface import __version__
from edgeface.config import Config
from edgeface.mqtt import payloads
from edgeface.mqtt.topics import Topics

_ANY_ADDRESS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class DoorDevice:
    """What discovery needs to know of one door (pure data, from the config)."""

    device_id: str
    prefix: str
    remote_unlock: bool = False
    """Whether ``cmd/unlock`` is taken: the door is then a lock, else a binary sensor."""
    snapshot: bool = False
    """Whether the daemon publishes face crops (``mqtt.snapshot``): an image entity."""
    configuration_url: str | None = None
    """The live page, when it is on: Home Assistant links the device to it."""
    liveness: str | None = None
    """The liveness check's level (``balanced``…), ``off`` or ``threshold T``; None: unknown. In the device's model."""

    @classmethod
    def from_config(cls, cfg: Config, *, web_port: int | None = None) -> DoorDevice:
        """The door ``cfg`` describes; ``web_port`` is the live page's bound port (``web.port`` may be 0)."""
        url = None
        if cfg.web.enabled:
            # A wildcard address is no place to point a browser: the host's name is.
            host = socket.gethostname() if cfg.web.address in _ANY_ADDRESS else cfg.web.address
            host = f"[{host}]" if ":" in host else host
            url = f"http://{host}:{web_port if web_port is not None else cfg.web.port}/"
        mqtt = cfg.mqtt
        return cls(
            cfg.device_id, cfg.topic_prefix, mqtt.remote_unlock.enabled, mqtt.snapshot, url, cfg.liveness.summary
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)


@dataclass(frozen=True)
class Entity:
    """One entity's discovery config, announced at ``homeassistant/<component>/edgeface_<id>/<object_id>/config``."""

    component: str
    """Home Assistant's platform: ``lock``, ``sensor``, ``binary_sensor``, ``event``, ``image``."""
    object_id: str
    config: dict[str, object]


def device_block(door: DoorDevice) -> dict[str, object]:
    block: dict[str, object] = {
        "identifiers": [f"edgeface_{door.device_id}"],
        "name": f"edgeface {door.device_id}",
        "manufacturer": "edgeface",
        # Home Assistant shows the model on the device page: whether a photo of a member could open this door.
        "model": "edgeface face-recognition door" + ("" if door.liveness is None else f", liveness {door.liveness}"),
        "sw_version": __version__,
    }
    if door.configuration_url is not None:
        block["configuration_url"] = door.configuration_url
    return block


def entity(door: DoorDevice, component: str, object_id: str, name: str, **config: object) -> Entity:
    """An entity of ``door``, available while the daemon is (its last will says ``offline``).

    The entity id Home Assistant makes is the device's name and ``name``, slugified:
    ``<component>.edgeface_<id>_<name>``. ``unique_id`` is ``edgeface_<id>_<object_id>``.
    """
    common: dict[str, object] = {
        "device": device_block(door),
        "availability_topic": door.topics.availability,
        "payload_available": payloads.ONLINE,
        "payload_not_available": payloads.OFFLINE,
        "name": name,
        "unique_id": f"edgeface_{door.device_id}_{object_id}",
    }
    return Entity(component, object_id, common | config)
