"""The configuration: documented defaults, strict validation, the seed's contract."""

from __future__ import annotations

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
