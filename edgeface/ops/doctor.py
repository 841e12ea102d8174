"""``edgeface doctor``: is this device ready to run the door? One line per check, with a fix.

Each check is a small function returning a :class:`Check`; none of them
changes anything, so doctor is safe to run beside a live daemon (it uses its
own MQTT client id and never publishes).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort
from gpiozero.pins.mock import MockFactory

from edgeface.capture.camera import open_camera
from edgeface.capture.picamera import SET_UP, picamera2_missing
from edgeface.config import Config
from edgeface.door.gpiochip import chip_description
from edgeface.door.relay import make_pin_factory
from edgeface.errors import EdgefaceError
from edgeface.liveness.levels import describe
from edgeface.models.catalogue import CATALOGUE
from edgeface.models.checksums import file_sha256, verify_model
from edgeface.mqtt.connect import broker_packet_limit
from edgeface.mqtt.fleet import MAX_RECORD_BYTES, record_key
from edgeface.storage.people import Store
from edgeface.vision.threshold import ThresholdPolicy

MIN_FREE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def text(self) -> str:
        """``name: detail``, and the fix when it failed (the CLI puts the ✓/✗ in front)."""
        hint = f" — fix: {self.fix}" if not self.ok and self.fix else ""
        return f"{self.name}: {self.detail}{hint}"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix if not self.ok else ""}


def check_models(cfg: Config) -> Check:
    profile = cfg.profile
    files = [(cfg.model_path(cfg.detector.model), cfg.detector.sha256), (cfg.model_path(profile.model), profile.sha256)]
    try:
        for path, sha in files:
            verify_model(path, sha)
    except EdgefaceError as exc:
        return Check("models", False, str(exc), "copy the model files into models_dir (see docs/models.md)")
    entry = CATALOGUE.get(Path(profile.model).name)
    licence = f"; embedder weights: {entry.licence}" if entry is not None and entry.noncommercial else ""
    return Check("models", True, f"{cfg.detector.model}, {profile.model} (SHA-256 verified){licence}")


def check_match(cfg: Config) -> Check:
    """The threshold the daemon would run with for the people enrolled now, and the FAR it holds."""
    profile = cfg.profile
    try:
        model = (profile.name, file_sha256(cfg.model_path(profile.model)))
        with Store(cfg.store_path) as store:
            templates = store.gallery(model, profile.output_dim).template_count if cfg.store_path.exists() else 0
    except EdgefaceError as exc:
        return Check("match", False, f"cannot read the gallery ({exc})", "see the models and store checks")
    policy = ThresholdPolicy.from_config(cfg)
    threshold = policy.for_gallery(templates)
    if threshold.target_far is None:
        return Check(
            "match",
            cfg.match.fixed_similarity() is not None,
            f"threshold {threshold.describe()}; it does not follow the gallery ({templates} templates)",
            "remove match.threshold to hold match.target_far, or run edgeface calibrate --write-config",
        )
    return Check("match", True, f"threshold {threshold.describe()}")


def check_liveness(cfg: Config) -> Check:
    """What the liveness stage would refuse; off is a choice, not a fault (see docs/liveness.md)."""
    if not cfg.liveness.enabled:
        return Check("liveness", True, f"off (liveness.enabled: false); when on: {describe(cfg.liveness)}")
    temporal = ", temporal check on" if cfg.liveness.temporal.enabled else ""
    return Check("liveness", True, f"on: {describe(cfg.liveness)}{temporal}")


def check_store(cfg: Config) -> Check:
    fix = "enrol people: edgeface enroll --from-dir faces/"
    if not cfg.store_path.exists():
        return Check("store", False, f"{cfg.store_path} does not exist yet", fix)
    try:
        with Store(cfg.store_path) as store:
            people = len(store.people())
    except EdgefaceError as exc:
        return Check("store", False, str(exc), f"check owner and mode 0600 of {cfg.store_path}")
    return Check(
        "store", people > 0, f"{cfg.store_path} (0600), {people} {'person' if people == 1 else 'people'} enrolled", fix
    )


def check_camera(cfg: Config, timeout: float = 5.0) -> Check:
    name = cfg.camera.source if cfg.camera.source != "file" else f"file {cfg.camera_path}"
    if cfg.camera.source == "picamera2" and (missing := picamera2_missing()):
        return Check("camera", False, f"picamera2: {'; '.join(missing)}", SET_UP)
    try:
        with open_camera(cfg.camera, cfg.camera_path) as camera:
            frame = camera.read(timeout)
    except EdgefaceError as exc:
        return Check("camera", False, str(exc), "check camera.source and the device/path, and the video group")
    if frame is None:
        return Check("camera", False, f"{name} opened but gave no frame in {timeout:.0f} s", "check the cable/stream")
    height, width = frame.image.shape[:2]
    return Check("camera", True, f"{name}: {width}×{height} frame")


def check_broker(cfg: Config, timeout: float = 5.0) -> Check:
    mqtt = cfg.mqtt
    if not mqtt.enabled:
        return Check("broker", True, "MQTT disabled; events stay in the outbox")
    try:
        limit = broker_packet_limit(mqtt, timeout)
    except EdgefaceError as exc:
        return Check("broker", False, str(exc), "start mosquitto, or fix mqtt.host/port/username/password/tls")
    # Informational: the door caps what it receives itself; the broker's cap spares the broker's memory.
    cap = (
        f"it caps packets at {limit} bytes"
        if limit is not None
        else "it sets no packet cap (max_packet_size in mosquitto.conf: see docs/home-assistant.md)"
    )
    return Check(
        "broker", True, f"{mqtt.host}:{mqtt.port}{' (TLS)' if mqtt.tls else ''} accepted the connection; {cap}"
    )


def check_fleet(cfg: Config) -> Check:
    """The fleet's key, and people whose templates this door's embedder cannot compare with (from another model)."""
    fleet = cfg.fleet
    if not fleet.enabled:
        return Check("fleet", True, "off (this door has its own enrolment)")
    where = f"{fleet.role} of site {fleet.site}"
    try:
        record_key(fleet, signing=fleet.role == "admin")
        profile = cfg.profile
        model = (profile.name, file_sha256(cfg.model_path(profile.model)))
        people, held = [], {}
        if cfg.store_path.exists():
            with Store(cfg.store_path) as store:
                people, held = store.people(model), store.withheld()
    except EdgefaceError as exc:
        return Check("fleet", False, f"{where}: {exc}", "set the fleet's key (see docs/fleet.md) and check the store")
    other = [p.name for p in people if p.templates == 0 and p.other_templates > 0]
    if other:
        return Check(
            "fleet",
            False,
            f"{where}: {len(other)} people have templates of another embedder only and are not recognised "
            f"here: {', '.join(other[:10])}{'…' if len(other) > 10 else ''}",
            f"run the same embedder on every door, or enrol them on the admin with {profile.name}",
        )
    withheld = f"; {len(held)} withheld until the fleet confirms them: {', '.join(sorted(held)[:10])}" if held else ""
    cap = f"records up to {MAX_RECORD_BYTES // 1024} KiB (the broker drops larger ones before they reach the door)"
    return Check("fleet", True, f"{where}; every person's templates fit {profile.name}; {cap}{withheld}")


def check_gpio(cfg: Config) -> Check:
    relay = cfg.relay
    try:
        factory = make_pin_factory(relay.pin_factory, relay.chip)
    except EdgefaceError as exc:
        return Check("gpio", False, str(exc), "install python3-lgpio and add the user to the gpio group")
    try:
        kind = type(factory).__name__
        where = relay.where if relay.chip is None else f"line {relay.pin} of {chip_description(factory)}"
    finally:
        factory.close()
    mock = isinstance(factory, MockFactory)
    detail = f"{kind} for {where}" + (" (mock: the relay will not move)" if mock else "")
    return Check("gpio", True, detail)


def check_disk(cfg: Config) -> Check:
    path = cfg.state_dir if cfg.state_dir.exists() else Path(cfg.state_dir.anchor or "/")
    free = shutil.disk_usage(path).free
    ok = free >= MIN_FREE_BYTES
    return Check("disk", ok, f"{free / 2**20:.0f} MiB free for {cfg.state_dir}", "free some space on that disk")


def check_providers(cfg: Config) -> Check:
    available = ort.get_available_providers()
    missing = [p for p in cfg.runtime.providers if p not in available]
    detail = f"configured {', '.join(cfg.runtime.providers)}; available {', '.join(available)}"
    return Check("onnxruntime", not missing, detail, f"install an onnxruntime build with {', '.join(missing)}")


CHECKS: tuple[Callable[[Config], Check], ...] = (
    check_models,
    check_store,
    check_match,
    check_liveness,
    check_camera,
    check_broker,
    check_fleet,
    check_gpio,
    check_disk,
    check_providers,
)


def run_checks(cfg: Config) -> list[Check]:
    return [check(cfg) for check in CHECKS]
