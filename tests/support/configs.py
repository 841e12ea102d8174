"""Configs for test doors: a Config for a daemon on a thread, a YAML file for one in a child process or a command.

Both use the repo's models, gpiozero's mock pins, a private state dir beside the test's files and a
device id of their own (the session broker keeps retained topics between tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from edgeface.config import CameraConfig, Config, MqttConfig, RelayConfig, RemoteUnlockConfig
from tests.support.broker import Broker, fresh_device_id
from tests.support.models import REPO_MODELS

PULSE = 0.4
"""How long the relay of a :func:`service_config` door opens for a grant, or an unlock without seconds."""


def service_config(
    tmp_path: Path,
    source: Path,
    broker: Broker | None = None,
    *,
    remote_unlock: RemoteUnlockConfig | None = None,
    **sections: Any,
) -> Config:
    """A Config for an in-process daemon watching ``source``, on ``broker`` if given (else MQTT is off)."""
    unlock = {"remote_unlock": remote_unlock} if remote_unlock else {}
    if broker:
        mqtt = MqttConfig(host=broker.host, port=broker.port, keepalive=5, **unlock)
    else:
        mqtt = MqttConfig(enabled=False, **unlock)
    fields: dict[str, Any] = {
        "device_id": fresh_device_id(),
        "models_dir": REPO_MODELS,
        "state_dir": tmp_path / "state",
        "camera": CameraConfig(path=str(source), fps=30.0, loop=True, reopen_max_seconds=0.4),
        "relay": RelayConfig(pulse_seconds=PULSE, pin_factory="mock"),
        "mqtt": mqtt,
    }
    fields.update(sections)
    return Config(**fields)


def write_config(path: Path, **sections: Any) -> Path:
    """A YAML config at ``path``; each section given is merged into the defaults here (MQTT off, mock pins)."""
    data: dict[str, Any] = {
        "device_id": fresh_device_id(),
        "models_dir": str(REPO_MODELS),
        "state_dir": str(path.parent / "state"),
        "relay": {"pin_factory": "mock", "pulse_seconds": 0.5},
        "mqtt": {"enabled": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def mqtt_section(broker: Broker, **extra: Any) -> dict[str, Any]:
    """The ``mqtt`` section of a :func:`write_config` file for ``broker``."""
    return {"enabled": True, "host": broker.host, "port": broker.port, "keepalive": 5, **extra}
