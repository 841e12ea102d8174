"""Configuration: YAML validated into pydantic models, one model per section.

Unknown keys are errors (a typo must not silently fall back to a default),
every field carries bounds and a description, and a failed validation is
reported as ``file: key.path: problem`` so the user knows what to edit.
Relative paths in a config file are resolved against that file's directory;
the embedded defaults resolve against the edgeface home (the checkout, or
``$EDGEFACE_HOME``).

The schema only: one module per section, importing no pipeline stage; each stage turns its
own section into what it runs (``X.from_config(section)``).
"""

from edgeface.config.base import Section, Sha256, default_state_dir, edgeface_home
from edgeface.config.camera import CameraConfig
from edgeface.config.daemon import DaemonConfig, MetricsConfig, WebConfig
from edgeface.config.decide import WEEKDAYS, DecideConfig, Weekday, Window
from edgeface.config.detector import DetectorConfig
from edgeface.config.embedder import EmbedderConfig
from edgeface.config.fleet import ENV_FLEET_KEY, FleetConfig
from edgeface.config.liveness import LivenessConfig, LivenessModelConfig, TemporalConfig
from edgeface.config.load import ENV_CONFIG, SYSTEM_CONFIG, default_config_path, load_config, parse_config
from edgeface.config.match import MatchConfig
from edgeface.config.mqtt import ENV_UNLOCK_SECRET, MqttConfig, RemoteUnlockConfig, TlsConfig
from edgeface.config.quality import QualityConfig
from edgeface.config.relay import RelayConfig
from edgeface.config.root import Config
from edgeface.config.runtime import RuntimeConfig
from edgeface.config.store import StoreConfig

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
