"""The whole config: one field per section, and the paths derived from them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, model_validator

from edgeface.config.base import DEFAULT_DEVICE_ID, DeviceId, Section, default_state_dir, edgeface_home
from edgeface.config.camera import CameraConfig
from edgeface.config.daemon import DaemonConfig, MetricsConfig, WebConfig
from edgeface.config.decide import DecideConfig
from edgeface.config.detector import DetectorConfig
from edgeface.config.embedder import EmbedderConfig
from edgeface.config.faces import FacesConfig
from edgeface.config.fleet import FleetConfig
from edgeface.config.liveness import LivenessConfig
from edgeface.config.match import MatchConfig
from edgeface.config.mqtt import MqttConfig
from edgeface.config.quality import QualityConfig
from edgeface.config.relay import RelayConfig
from edgeface.config.runtime import RuntimeConfig
from edgeface.config.store import StoreConfig
from edgeface.models.profiles import EmbedderProfile


class Config(Section):
    device_id: DeviceId = Field(DEFAULT_DEVICE_ID, description="Names this door in MQTT.")
    models_dir: Path = Field(default_factory=lambda: edgeface_home() / "models")
    state_dir: Path = Field(default_factory=default_state_dir, description="Store and outbox live here (0700).")
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    match: MatchConfig = Field(default_factory=MatchConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    decide: DecideConfig = Field(default_factory=DecideConfig)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    relay: RelayConfig = Field(default_factory=RelayConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    faces: FacesConfig = Field(default_factory=FacesConfig)
    fleet: FleetConfig = Field(default_factory=FleetConfig)

    @model_validator(mode="after")
    def _fleet_needs_a_private_broker(self) -> Config:
        # Records carry templates, which are biometric data: they cross a network only encrypted.
        if self.fleet.enabled:
            if not self.mqtt.enabled:
                raise ValueError("fleet.enabled needs mqtt.enabled: the fleet's records travel through the broker")
            if self.mqtt.tls is None and not _is_loopback(self.mqtt.host):
                raise ValueError(
                    f"fleet.enabled: mqtt.tls is required for the broker {self.mqtt.host!r} (templates are "
                    "biometric data and may cross the network only encrypted); set mqtt.tls or use a local broker"
                )
        return self

    def model_path(self, name: str) -> Path:
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.models_dir / path

    def profile_data_path(self, name: str) -> Path:
        """A small file a shipped profile needs: in models_dir if put there, else the one bundled with edgeface."""
        configured = self.model_path(name)
        bundled = edgeface_home() / "models" / name
        return bundled if not configured.exists() and bundled.exists() else configured

    def model_files(self) -> list[tuple[str, Path, str | None]]:
        """Every model file this config runs, as (role, path, pinned SHA-256): detector, embedder, liveness."""
        profile = self.profile
        files = [
            ("detector", self.model_path(self.detector.model), self.detector.sha256),
            (f"embedder ({profile.name})", self.model_path(profile.model), profile.sha256),
        ]
        if self.liveness.enabled:
            files += [(f"liveness {i}", self.model_path(m.model), m.sha256) for i, m in enumerate(self.liveness.models)]
            if (cue := self.liveness.screen_cue) is not None:
                files.append(("liveness screen cue", self.model_path(cue.model), cue.sha256))
        return files

    @property
    def store_path(self) -> Path:
        path = Path(self.store.path).expanduser()
        return path if path.is_absolute() else self.state_dir / path

    @property
    def profile(self) -> EmbedderProfile:
        return self.embedder.resolve()

    @property
    def camera_path(self) -> Path:
        if self.camera.path is None:
            return edgeface_home() / "config" / "demo" / "hamilton_clip.mp4"
        return Path(self.camera.path).expanduser()

    @property
    def topic_prefix(self) -> str:
        return self.mqtt.topic_prefix(self.device_id)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere
