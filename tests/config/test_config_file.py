"""The configuration: documented defaults, strict validation, the seed's contract."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from edgeface.config import Config, load_config, parse_config
from edgeface.errors import ConfigError
from edgeface.vision.threshold import ThresholdPolicy
from tests.support.data import ROOT

DOCUMENTED = ROOT / "config" / "edgeface.yaml"


def test_the_documented_config_file_states_the_embedded_defaults() -> None:
    documented = load_config(DOCUMENTED)
    defaults = Config()
    for section in Config.model_fields:
        if section in {"models_dir", "state_dir"}:
            continue
        assert getattr(documented, section) == getattr(defaults, section), section
    assert documented.models_dir.resolve() == (ROOT / "models").resolve()


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "edgeface.yaml"
    path.write_text("models_dir: ../models\nstate_dir: state\ncamera: {path: clips/door.mp4}\n")
    cfg = load_config(path)
    assert cfg.models_dir == tmp_path / "etc" / ".." / "models"
    assert cfg.store_path == tmp_path / "etc" / "state" / "people.db"
    assert cfg.camera_path == tmp_path / "etc" / "clips" / "door.mp4"


def test_a_distance_threshold_is_the_seeds_facenet_contract() -> None:
    cfg = parse_config("embedder: {profile: facenet_casia}\nmatch: {distance_threshold: 1.0}\n", "t", Path())
    for templates in (1, 1000):  # a fixed threshold does not follow the gallery
        threshold = ThresholdPolicy.from_config(cfg).for_gallery(templates)
        assert threshold.value == pytest.approx(0.5) and threshold.target_far is None
    assert cfg.profile.input_size == 160 and cfg.profile.crop == "box"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("match: {threshold: 0.4, distance_threshold: 0.9}\n", "match"),
        ("decide: {required: 6, window: 5}\n", "decide"),
        ("mqtt: {password: hunter2}\n", "mqtt"),
        ("device_id: 'front door'\n", "device_id"),
        ("- a list\n", "top level"),
        ("camera: {source: webcam}\n", "camera.source"),
        ("embedder: {sha256: abc}\n", "embedder.sha256"),
    ],
)
def test_inconsistent_values_are_rejected_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config(text, "edgeface.yaml", Path())


def test_overriding_the_model_file_drops_the_shipped_checksum_unless_pinned() -> None:
    swapped = parse_config("embedder: {model: faceNet.onnx}\n", "t", Path()).profile
    assert swapped.model == "faceNet.onnx" and swapped.sha256 is None
    pinned = parse_config(f"embedder: {{model: faceNet.onnx, sha256: {'a' * 64}}}\n", "t", Path()).profile
    assert pinned.sha256 == "a" * 64


def test_the_mqtt_password_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEFACE_MQTT_PASSWORD", "s3cret")
    cfg = parse_config("mqtt: {username: door}\n", "t", Path())
    assert cfg.mqtt.password == "s3cret"


@pytest.mark.parametrize("host", ["door-broker.lan", "192.168.1.20", "::ffff:10.0.0.1"])
def test_a_fleet_refuses_a_broker_across_the_network_without_tls(host: str) -> None:
    text = f"mqtt: {{host: '{host}'}}\nfleet: {{enabled: true, key: 0123456789abcdef}}\n"
    with pytest.raises(ConfigError, match=r"mqtt\.tls is required .*biometric"):
        parse_config(text, "t", Path())
    tls = f"mqtt: {{host: '{host}', tls: {{ca_file: ca.pem}}}}\nfleet: {{enabled: true, key: 0123456789abcdef}}\n"
    assert parse_config(tls, "t", Path()).fleet.enabled


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_a_fleet_may_use_a_broker_on_this_machine_without_tls(host: str) -> None:
    cfg = parse_config(f"mqtt: {{host: '{host}'}}\nfleet: {{enabled: true, key: 0123456789abcdef}}\n", "t", Path())
    assert cfg.fleet.signing_key() == b"0123456789abcdef"


def test_a_fleet_needs_mqtt_a_long_key_and_a_usable_site() -> None:
    with pytest.raises(ConfigError, match=r"fleet\.enabled needs mqtt\.enabled"):
        parse_config("mqtt: {enabled: false}\nfleet: {enabled: true, key: 0123456789abcdef}\n", "t", Path())
    with pytest.raises(ConfigError, match=r"fleet\.key.*at least 16"):
        parse_config("fleet: {enabled: true, key: short}\n", "t", Path())
    with pytest.raises(ConfigError, match=r"fleet\.site"):
        parse_config("fleet: {site: 'a/#'}\n", "t", Path())
    with pytest.raises(ConfigError, match=r"fleet\.key: a fleet needs its site's key"):
        parse_config("fleet: {enabled: true}\n", "t", Path()).fleet.signing_key()


def test_every_lazily_exported_config_name_is_typed_listed_and_found_where_it_is_said_to_live() -> None:
    package = importlib.import_module("edgeface.config")
    tree = ast.parse(Path(str(package.__file__)).read_text())
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for stmt in node.body
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
    }
    homes: dict[str, str] = vars(package)["_HOME"]
    assert typed == set(homes) == set(package.__all__)
    for name, module in homes.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name), name


def flatten(tree: object, key: str = "") -> dict[str, object]:
    """``{"camera.fps": 1.0, ...}`` from a config's JSON dump."""
    if not isinstance(tree, dict):
        return {key: tree}
    return {k: v for name, sub in tree.items() for k, v in flatten(sub, f"{key}.{name}" if key else name).items()}


def test_the_emulation_config_is_the_demo_with_only_its_timings_stretched() -> None:
    # make test-arm64 grants on it: what it proves holds for the demo only if nothing else differs.
    demo = flatten(load_config(ROOT / "config/demo/edgeface.yaml").model_dump(mode="json"))
    emulated = flatten(load_config(ROOT / "config/demo/emulation.yaml").model_dump(mode="json"))
    differ = {key: (demo[key], emulated[key]) for key in demo if demo[key] != emulated[key]}
    assert differ == {
        "camera.fps": (15.0, 1.0),
        "decide.window_seconds": (3.0, 60.0),
        "decide.track_seconds": (1.0, 30.0),
        "daemon.stall_seconds": (20.0, 300.0),
    }
