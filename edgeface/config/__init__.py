"""Configuration: YAML validated into pydantic models, one model per section.

Unknown keys are errors (a typo must not silently fall back to a default),
every field carries bounds and a description, and a failed validation is
reported as ``file: key.path: problem`` so the user knows what to edit.
Relative paths in a config file are resolved against that file's directory;
the embedded defaults resolve against the edgeface home (the checkout, or
``$EDGEFACE_HOME``).

The schema only: one module per section, importing no pipeline stage; each stage turns its
own section into what it runs (``X.from_config(section)``).

Names are imported on first use (PEP 562), so that importing one section module (say
``edgeface.config.relay``) does not build every other section's schema: ``relay lock`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeface.config.base import Section, Sha256, default_state_dir, edgeface_home
    from edgeface.config.camera import CameraConfig
    from edgeface.config.daemon import DaemonConfig, MetricsConfig, WebConfig
    from edgeface.config.decide import WEEKDAYS, DecideConfig, Weekday, Window
    from edgeface.config.detector import DetectorConfig
    from edgeface.config.embedder import EmbedderConfig
    from edgeface.config.faces import FacesConfig
    from edgeface.config.fleet import ENV_FLEET_KEY, FleetConfig
    from edgeface.config.liveness import LivenessConfig, LivenessModelConfig, TemporalConfig
    from edgeface.config.load import load_config, parse_config
    from edgeface.config.match import MatchConfig
    from edgeface.config.mqtt import ENV_UNLOCK_SECRET, MqttConfig, RemoteUnlockConfig, TlsConfig
    from edgeface.config.quality import QualityConfig
    from edgeface.config.relay import RelayConfig
    from edgeface.config.root import Config
    from edgeface.config.runtime import RuntimeConfig
    from edgeface.config.source import ENV_CONFIG, SYSTEM_CONFIG, default_config_path
    from edgeface.config.store import StoreConfig

_HOME = {
    "CameraConfig": "edgeface.config.camera",
    "Config": "edgeface.config.root",
    "DaemonConfig": "edgeface.config.daemon",
    "DecideConfig": "edgeface.config.decide",
    "DetectorConfig": "edgeface.config.detector",
    "ENV_CONFIG": "edgeface.config.source",
    "ENV_FLEET_KEY": "edgeface.config.fleet",
    "ENV_UNLOCK_SECRET": "edgeface.config.mqtt",
    "EmbedderConfig": "edgeface.config.embedder",
    "FacesConfig": "edgeface.config.faces",
    "FleetConfig": "edgeface.config.fleet",
    "LivenessConfig": "edgeface.config.liveness",
    "LivenessModelConfig": "edgeface.config.liveness",
    "MatchConfig": "edgeface.config.match",
    "MetricsConfig": "edgeface.config.daemon",
    "MqttConfig": "edgeface.config.mqtt",
    "QualityConfig": "edgeface.config.quality",
    "RelayConfig": "edgeface.config.relay",
    "RemoteUnlockConfig": "edgeface.config.mqtt",
    "RuntimeConfig": "edgeface.config.runtime",
    "SYSTEM_CONFIG": "edgeface.config.source",
    "Section": "edgeface.config.base",
    "Sha256": "edgeface.config.base",
    "StoreConfig": "edgeface.config.store",
    "TemporalConfig": "edgeface.config.liveness",
    "TlsConfig": "edgeface.config.mqtt",
    "WEEKDAYS": "edgeface.config.decide",
    "WebConfig": "edgeface.config.daemon",
    "Weekday": "edgeface.config.decide",
    "Window": "edgeface.config.decide",
    "default_config_path": "edgeface.config.source",
    "default_state_dir": "edgeface.config.base",
    "edgeface_home": "edgeface.config.base",
    "load_config": "edgeface.config.load",
    "parse_config": "edgeface.config.load",
}
"""Which module each exported name lives in."""


def __getattr__(name: str) -> object:
    try:
        module = _HOME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, an ordinary module attribute
    return value


__all__ = [
    "ENV_CONFIG",
    "ENV_FLEET_KEY",
    "ENV_UNLOCK_SECRET",
    "SYSTEM_CONFIG",
    "WEEKDAYS",
    "CameraConfig",
    "Config",
    "DaemonConfig",
    "DecideConfig",
    "DetectorConfig",
    "EmbedderConfig",
    "FacesConfig",
    "FleetConfig",
    "LivenessConfig",
    "LivenessModelConfig",
    "MatchConfig",
    "MetricsConfig",
    "MqttConfig",
    "QualityConfig",
    "RelayConfig",
    "RemoteUnlockConfig",
    "RuntimeConfig",
    "Section",
    "Sha256",
    "StoreConfig",
    "TemporalConfig",
    "TlsConfig",
    "WebConfig",
    "Weekday",
    "Window",
    "default_config_path",
    "default_state_dir",
    "edgeface_home",
    "load_config",
    "parse_config",
]
