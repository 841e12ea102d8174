"""What the commands print and write stays private: no secret in ``config show``, face images 0600 at any umask."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeface.config import load_config
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, LIN
from tests.support.scenes import still_frames

BROKER_PASSWORD = "broker-password-1"
ENV_PASSWORD = "password-from-env-2"
UNLOCK_SECRET = "unlock-secret-3-correct-horse"
CAMERA_PASSWORD = "camera-password-4"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 000: whatever edgeface does not restrict itself ends up writable by everyone."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("from_env", [False, True], ids=["file", "environment"])
def test_config_show_masks_every_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> None:
    mqtt = {"username": "door", "password": BROKER_PASSWORD, "remote_unlock": {"secret": UNLOCK_SECRET}}
    camera = {"source": "opencv", "device": f"rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:8554/door"}
    config = write_config(tmp_path / "edgeface.yaml", mqtt=mqtt, camera=camera)
    if from_env:
        monkeypatch.setenv("EDGEFACE_MQTT_PASSWORD", ENV_PASSWORD)
    capsys.readouterr()
    assert edgeface(config, "config", "show") == 0
    out = capsys.readouterr().out
    for secret in (BROKER_PASSWORD, ENV_PASSWORD, UNLOCK_SECRET, CAMERA_PASSWORD):
        assert secret not in out
    shown = json.loads(out)
    assert shown["mqtt"]["password"] == shown["mqtt"]["remote_unlock"]["secret"] == "**********"
    assert shown["mqtt"]["username"] == "door"
    assert shown["camera"]["device"] == "rtsp://***@127.0.0.1:8554/door"
    cfg = load_config(config)
    assert cfg.mqtt.password == (ENV_PASSWORD if from_env else BROKER_PASSWORD), "the daemon still gets it"
    assert cfg.camera.device.startswith(f"rtsp://admin:{CAMERA_PASSWORD}@")
    assert BROKER_PASSWORD not in repr(cfg) and ENV_PASSWORD not in repr(cfg)


def test_identify_annotate_writes_0600_files_even_over_a_wider_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], open_umask: None
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "enroll", "lin", str(LIN)) == 0
    out = tmp_path / "seen.png"
    out.write_bytes(b"")
    out.chmod(0o666)
    assert edgeface(config, "identify", str(LIN), "--annotate", str(out)) == 0
    assert mode(out) == 0o600
    assert out.read_bytes().startswith(b"\x89PNG"), "written in the format its name asks for"
    many = [str(LIN), str(FACES / "unknown" / "3.jpg")]
    assert edgeface(config, "identify", *many, "--annotate", str(tmp_path / "seen.jpg")) == 0
    assert {p.name: mode(p) for p in tmp_path.glob("seen_*.jpg")} == {
        f"seen_{LIN.stem}.jpg": 0o600, "seen_3.jpg": 0o600
    }  # fmt: skip


def test_inspect_writes_a_0600_snapshot(tmp_path: Path, open_umask: None) -> None:
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(still_frames(tmp_path / "camera"))})
    snapshot = tmp_path / "snapshot.jpg"
    assert edgeface(config, "inspect", "--out", str(snapshot)) == 0
    assert mode(snapshot) == 0o600 and snapshot.read_bytes().startswith(b"\xff\xd8")


def test_missing_parents_of_the_state_directory_are_created_0700(tmp_path: Path, open_umask: None) -> None:
    state = tmp_path / "srv" / "edgeface" / "state"
    config = write_config(tmp_path / "edgeface.yaml", state_dir=str(state))
    assert edgeface(config, "enroll", "lin", str(LIN)) == 0
    assert {str(p.relative_to(tmp_path)): mode(p) for p in (state.parent.parent, state.parent, state)} == {
        "srv": 0o700, "srv/edgeface": 0o700, "srv/edgeface/state": 0o700
    }  # fmt: skip
    assert mode(state / "people.db") == 0o600
