"""Configuration: YAML validated into pydantic models, one model per section.

Unknown keys are errors (a typo must not silently fall back to a default),
every field carries bounds and a description, and a failed validation is
reported as ``file: key.path: problem`` so the user knows what to edit.
Relative paths in a config file are resolved against that file's directory;
the embedded defaults resolve against the edgeface home (the checkout, or
``$EDGEFACE_HOME``).
"""

from __future__ import annotations

import os
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from edgeface.errors import ConfigError
from edgeface.liveness.minifasnet import DEFAULT_MODELS, DEFAULT_THRESHOLD, ModelSpec
from edgeface.liveness.temporal import MotionSettings
from edgeface.models.profiles import BUILTIN_PROFILES, DEFAULT_PROFILE, EmbedderProfile
from edgeface.models.runtime import RuntimeOptions
from edgeface.mqtt.commands import MIN_SECRET_CHARS
from edgeface.vision.detect import DetectorSettings
from edgeface.vision.quality import QualityGates

ENV_CONFIG = "EDGEFACE_CONFIG"
ENV_UNLOCK_SECRET = "EDGEFACE_UNLOCK_SECRET"
SYSTEM_CONFIG = Path("/etc/edgeface/edgeface.yaml")


def edgeface_home() -> Path:
    """Where the bundled models and demo clip live: ``$EDGEFACE_HOME`` or the source checkout."""
    env = os.environ.get("EDGEFACE_HOME")
    return Path(env) if env else Path(__file__).resolve().parents[2]


def default_state_dir() -> Path:
    """systemd's ``$STATE_DIRECTORY``, else the XDG state directory."""
    if env := os.environ.get("STATE_DIRECTORY"):
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "edgeface"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class RuntimeConfig(Section):
    threads: int = Field(0, ge=0, le=64, description="onnxruntime intra-op threads; 0 = cores − 1.")
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="Execution providers in order of preference, e.g. CUDAExecutionProvider on a Jetson.",
    )

    def options(self) -> RuntimeOptions:
        return RuntimeOptions(threads=self.threads, providers=tuple(self.providers))


class DetectorConfig(Section):
    model: str = Field("face_detection_yunet_2026may.onnx", description="YuNet ONNX file (dynamic input size).")
    sha256: Sha256 | None = Field(
        "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0", description="Pinned SHA-256."
    )
    score_threshold: float = Field(0.7, gt=0.0, lt=1.0, description="Minimum face score.")
    nms_threshold: float = Field(0.3, gt=0.0, lt=1.0, description="IoU above which overlapping boxes merge.")
    max_side: int = Field(640, ge=64, le=4096, description="Downscale frames so the longer side is at most this.")
    live_max_side: int | None = Field(
        416,
        ge=64,
        le=4096,
        description="Camera frames only (photos keep max_side); null = max_side. Smaller is faster and leaner "
        "(416: detect 3.9 -> ~2 ms, daemon peak RSS 158 -> 146 MB) with coarser landmarks; 320 is the floor.",
    )

    def settings(self, live: bool = False) -> DetectorSettings:
        side = self.live_max_side if live and self.live_max_side is not None else self.max_side
        return DetectorSettings(self.score_threshold, self.nms_threshold, side)


class EmbedderConfig(Section):
    """A shipped profile by name, with any of its fields overridden."""

    profile: str = Field(DEFAULT_PROFILE, description=f"One of: {', '.join(BUILTIN_PROFILES)}.")
    model: str | None = Field(None, description="Model file; overrides the profile's.")
    sha256: Sha256 | Literal["unset"] | None = Field(
        "unset", description="Pinned SHA-256; overrides the profile's; null loads the file unverified."
    )
    input_size: int | None = Field(None, ge=32, le=1024)
    color: Literal["rgb", "bgr"] | None = None
    normalize: Literal["mean_std", "prewhiten"] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop: Literal["template", "box"] | None = None
    crop_scale: float | None = Field(None, gt=0.2, le=2.0)
    crop_shift_y: float | None = Field(None, ge=-0.5, le=0.5)
    crop_margin: float | None = Field(None, ge=0.0, le=1.0)
    output_dim: int | None = Field(None, ge=2, le=4096)
    flip: bool | None = None
    center: str | None = None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in BUILTIN_PROFILES:
            raise ValueError(f"unknown profile {value!r}; choose one of {', '.join(BUILTIN_PROFILES)}")
        return value

    def resolve(self) -> EmbedderProfile:
        base = BUILTIN_PROFILES[self.profile]
        overrides = self.model_dump(exclude={"profile", "sha256"}, exclude_none=True)
        if self.sha256 != "unset":
            overrides["sha256"] = self.sha256
        elif "model" in overrides and overrides["model"] != base.model:
            # A different file cannot carry the shipped file's checksum; pin it explicitly or load unverified.
            overrides["sha256"] = None
        return base.model_copy(update=overrides)


class MatchConfig(Section):
    threshold: float | None = Field(
        None, ge=-1.0, le=1.0, description="Cosine similarity to accept a match; null = the profile's."
    )
    distance_threshold: float | None = Field(
        None, gt=0.0, le=2.0, description="FaceNet-style Euclidean distance on unit vectors (alternative to threshold)."
    )
    margin: float = Field(0.0, ge=0.0, le=2.0, description="Required lead of the best person over the runner-up.")

    @model_validator(mode="after")
    def _one_threshold(self) -> MatchConfig:
        if self.threshold is not None and self.distance_threshold is not None:
            raise ValueError("set threshold or distance_threshold, not both")
        return self


class QualityConfig(Section):
    """Gates a live face must pass before it is embedded; a failing face is tracked but is no evidence."""

    min_face: int = Field(24, ge=8, le=1024, description="Faces smaller than this (px, shorter box side) are ignored.")
    max_yaw: float = Field(
        0.6, gt=0.0, le=1.0, description="Nose offset from the eyes' midline in eye distances; 1 disables."
    )
    min_sharpness: float = Field(
        10.0, ge=0.0, le=10000.0, description="Variance of the Laplacian over the face; 0 disables."
    )

    def gates(self) -> QualityGates:
        return QualityGates(min_face=self.min_face, min_sharpness=self.min_sharpness, max_yaw=self.max_yaw)


class StoreConfig(Section):
    path: str = Field("people.db", description="SQLite file, relative to state_dir.")
    keep_images: bool = Field(False, description="Keep the enrolment face crops (biometric data) in the store.")
    image_retention_days: float = Field(
        30.0,
        gt=0.0,
        le=3650.0,
        description="With keep_images, face crops older than this are deleted (at start and daily); "
        "without keep_images, the daemon deletes any crops left in the store.",
    )
    audit_retention_days: float = Field(
        365.0, gt=0.0, le=3650.0, description="Door decisions older than this leave the audit log."
    )


class CameraConfig(Section):
    source: Literal["file", "opencv", "picamera2"] = Field("file", description="Capture backend.")
    path: str | None = Field(None, description="file: a video or a folder of images; null = the bundled demo clip.")
    device: str = Field("0", description="opencv: a V4L2 index (0) or a stream URL (rtsp://, http://).")
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(480, ge=64, le=4096)
    fps: float = Field(15.0, gt=0.0, le=120.0, description="Frame rate cap (file: playback rate).")
    loop: bool = Field(True, description="file: start again at the end.")
    reopen_max_seconds: float = Field(30.0, ge=0.1, le=3600.0, description="Longest wait between reopen attempts.")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Window(Section):
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: dtime = Field(dtime(0, 0))
    end: dtime = Field(dtime(23, 59, 59))


class DecideConfig(Section):
    required: int = Field(3, ge=1, le=100, description="Frames that must agree on a person (N of M).")
    window: int = Field(5, ge=1, le=100, description="Frames considered (M).")
    window_seconds: float = Field(3.0, gt=0.0, le=60.0, description="Agreeing frames must fall within this time.")
    cooldown_seconds: float = Field(10.0, ge=0.0, le=3600.0, description="Per person: one event per visit.")
    unknown_cooldown_seconds: float = Field(30.0, ge=0.0, le=3600.0, description="Per track: unknown event rate.")
    unknown_below: float = Field(
        0.25,
        ge=-1.0,
        le=1.0,
        description="An unmatched face is evidence of a stranger only below this similarity; between it and "
        "the match threshold it is no evidence either way (a known face at a bad angle or distance).",
    )
    schedules: dict[str, list[Window]] = Field(
        default_factory=dict, description="Person → access windows; people not listed may enter at any time."
    )

    @model_validator(mode="after")
    def _n_of_m(self) -> DecideConfig:
        if self.required > self.window:
            raise ValueError(f"required ({self.required}) cannot exceed window ({self.window})")
        return self


class LivenessModelConfig(Section):
    model: str = Field(description="Silent-Face MiniFASNet ONNX file (80×80 input, 3 classes).")
    sha256: Sha256 | None = Field(description="Pinned SHA-256; null loads the file unverified.")
    scale: float = Field(gt=1.0, le=10.0, description="Box scale the model was trained on (2.7, 4.0).")


class TemporalConfig(Section):
    """The landmark-motion check: a picture moves as a plane, a head does not."""

    enabled: bool = Field(False, description="Also require non-rigid landmark motion (adds min_seconds of latency).")
    threshold: float = Field(
        0.038, gt=0.0, le=1.0, description="Non-rigid residual (inter-ocular distances) at or above which it is live."
    )
    window_seconds: float = Field(2.0, gt=0.0, le=30.0, description="Landmarks older than this are not used.")
    min_seconds: float = Field(1.5, ge=0.0, le=30.0, description="A track must be matched this long before a verdict.")
    min_frames: int = Field(6, ge=3, le=100, description="And in at least this many frames.")
    min_face: float = Field(40.0, ge=8.0, le=1024.0, description="Smaller faces (px) are too noisy to use.")

    @model_validator(mode="after")
    def _min_inside_window(self) -> TemporalConfig:
        if self.min_seconds > self.window_seconds:
            raise ValueError(f"min_seconds ({self.min_seconds}) cannot exceed window_seconds ({self.window_seconds})")
        return self

    def settings(self) -> MotionSettings:
        return MotionSettings(self.threshold, self.window_seconds, self.min_seconds, self.min_frames, self.min_face)


def _default_liveness_models() -> list[LivenessModelConfig]:
    return [LivenessModelConfig(model=name, sha256=sha, scale=scale) for name, sha, scale in DEFAULT_MODELS]


class LivenessConfig(Section):
    """Passive liveness on faces that matched an enrolled person: prints and screens are denied (reason spoof)."""

    enabled: bool = Field(False, description="Off until its figures on your camera justify turning it on.")
    threshold: float = Field(
        DEFAULT_THRESHOLD, ge=0.0, le=1.0, description="Fused real-class probability at or above which a face is live."
    )
    models: list[LivenessModelConfig] = Field(
        default_factory=_default_liveness_models, min_length=1, description="Networks whose softmax is averaged."
    )
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)

    def motion(self) -> MotionSettings | None:
        return self.temporal.settings() if self.temporal.enabled else None


class TlsConfig(Section):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = Field(False, description="Skip hostname verification (testing only).")


class RemoteUnlockConfig(Section):
    enabled: bool = Field(False, description="Accept cmd/unlock over MQTT.")
    max_seconds: float = Field(10.0, gt=0.0, le=300.0, description="Longest unlock a command may ask for.")
    secret: SecretStr | None = Field(
        None,
        description=f"Shared secret (at least {MIN_SECRET_CHARS} characters): unlocks must then be signed "
        f"(HMAC-SHA256, see edgeface.mqtt.commands). Or set {ENV_UNLOCK_SECRET}.",
    )
    max_age_seconds: float = Field(
        30.0, ge=1.0, le=3600.0, description="Signed unlocks older (or further in the future) than this are refused."
    )
    per_minute: int = Field(6, ge=1, le=600, description="Remote unlocks acted on per minute; more are refused.")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must have at least {MIN_SECRET_CHARS} characters")
        return value

    def shared_secret(self) -> str | None:
        """The secret in force: ``$EDGEFACE_UNLOCK_SECRET`` if set, else ``secret``; None for unsigned unlocks."""
        if env := os.environ.get(ENV_UNLOCK_SECRET):
            if len(env) < MIN_SECRET_CHARS:
                raise ConfigError(f"{ENV_UNLOCK_SECRET}: must have at least {MIN_SECRET_CHARS} characters")
            return env
        return self.secret.get_secret_value() if self.secret is not None else None


class MqttConfig(Section):
    enabled: bool = Field(True, description="Publish over MQTT; events are kept in the outbox either way.")
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(None, description="Or set EDGEFACE_MQTT_PASSWORD.")
    tls: TlsConfig | None = None
    prefix: str | None = Field(None, description="Topic prefix; null = edgeface/<device_id>.")
    keepalive: int = Field(30, ge=5, le=3600)
    outbox_max: int = Field(10000, ge=10, le=10_000_000, description="Events kept while the broker is away.")
    remote_unlock: RemoteUnlockConfig = Field(default_factory=RemoteUnlockConfig)
    discovery: bool = Field(True, description="Announce the door to Home Assistant (MQTT discovery).")

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttConfig:
        if self.password is not None and self.username is None:
            raise ValueError("password is set but username is not")
        return self


class RelayConfig(Section):
    pin: int = Field(17, ge=0, le=27, description="BCM pin number of the door relay.")
    active_high: bool = Field(True, description="False for relay boards that energise on a low pin.")
    pulse_seconds: float = Field(3.0, gt=0.0, le=60.0, description="How long the door stays unlocked.")
    pin_factory: Literal["auto", "mock", "lgpio", "rpigpio", "pigpio", "native"] = Field(
        "auto", description="gpiozero pin factory; auto uses real GPIO where present, else the mock."
    )


class DaemonConfig(Section):
    """Guards of the running daemon."""

    decisions_per_minute: int = Field(
        30, ge=1, le=10_000, description="Recognition decisions acted on per minute; more are dropped (no unlock)."
    )
    stall_seconds: float = Field(
        20.0,
        ge=0.0,
        le=3600.0,
        description="A frame loop or camera read stuck this long locks the door and exits (status 3) so the "
        "service manager restarts the daemon; 0 disables.",
    )


class MetricsConfig(Section):
    port: int | None = Field(None, ge=0, le=65535, description="Serve Prometheus metrics on this port; null = off.")
    address: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 to let another host scrape.")


class WebConfig(Section):
    """The local live view: annotated stream, last events, health. Off by default."""

    enabled: bool = Field(False, description="Serve the live view page (it shows faces: keep it on a trusted network).")
    address: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 to let another host look.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the page; 0 picks a free one.")
    fps: float = Field(5.0, gt=0.0, le=30.0, description="Most stream frames per second sent to a viewer.")


class Config(Section):
    device_id: str = Field("edgeface", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Names this door in MQTT.")
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

    def model_path(self, name: str) -> Path:
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.models_dir / path

    def profile_data_path(self, name: str) -> Path:
        """A small file a shipped profile needs: in models_dir if put there, else the one bundled with edgeface."""
        configured = self.model_path(name)
        bundled = edgeface_home() / "models" / name
        return bundled if not configured.exists() and bundled.exists() else configured

    def liveness_specs(self) -> tuple[ModelSpec, ...]:
        return tuple(ModelSpec(self.model_path(m.model), m.sha256, m.scale) for m in self.liveness.models)

    @property
    def store_path(self) -> Path:
        path = Path(self.store.path).expanduser()
        return path if path.is_absolute() else self.state_dir / path

    @property
    def profile(self) -> EmbedderProfile:
        return self.embedder.resolve()

    @property
    def threshold(self) -> float:
        """The similarity threshold in force: explicit, from a distance, or the profile's."""
        if self.match.threshold is not None:
            return self.match.threshold
        if self.match.distance_threshold is not None:
            return 1.0 - self.match.distance_threshold**2 / 2.0
        return self.profile.threshold

    @property
    def camera_path(self) -> Path:
        if self.camera.path is None:
            return edgeface_home() / "config" / "demo" / "hamilton_clip.mp4"
        return Path(self.camera.path).expanduser()

    @property
    def topic_prefix(self) -> str:
        return self.mqtt.prefix or f"edgeface/{self.device_id}"


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _resolve_relative(data: dict[str, object], base: Path) -> None:
    """Make the config file's relative paths relative to its own directory."""
    for key in ("models_dir", "state_dir"):
        value = data.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            data[key] = str(base / value)
    camera = data.get("camera")
    if isinstance(camera, dict) and isinstance(camera.get("path"), str) and not Path(camera["path"]).is_absolute():
        camera["path"] = str(base / Path(camera["path"]).expanduser())


def parse_config(text: str, source: str, base: Path) -> Config:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML ({problem})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, not {type(data).__name__}")
    _resolve_relative(data, base)
    mqtt = data.get("mqtt")
    if env_password := os.environ.get("EDGEFACE_MQTT_PASSWORD"):
        data["mqtt"] = {**(mqtt if isinstance(mqtt, dict) else {}), "password": env_password}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {_key_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("; ".join(problems)) from None


def default_config_path() -> Path | None:
    """``$EDGEFACE_CONFIG``, else /etc/edgeface/edgeface.yaml if present, else None (embedded defaults)."""
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def load_config(path: Path | None = None) -> Config:
    """Load and validate a config file; with no file anywhere, the embedded defaults."""
    path = path or default_config_path()
    if path is None:
        return parse_config("", "(embedded defaults)", edgeface_home())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from exc
    return parse_config(text, str(path), path.resolve().parent)
