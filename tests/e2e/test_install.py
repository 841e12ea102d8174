"""deploy/install.sh into a throwaway root: the files a Pi install lays out, with the right modes."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from edgeface.config import load_config
from tests.support.data import ROOT


def install(root: Path) -> subprocess.CompletedProcess[str]:
    """``deploy/install.sh --prefix ROOT --no-venv``, which must succeed."""
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "install.sh"), "--prefix", str(root), "--no-venv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_install_lays_out_unit_config_and_models_under_a_prefix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root)
    unit = (root / "etc/systemd/system/edgeface.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "User=edgeface",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "NoNewPrivileges=true",
        "StateDirectory=edgeface",
        "ExecStopPost=/opt/edgeface/venv/bin/edgeface --config /etc/edgeface/edgeface.yaml relay lock",
    ):
        assert line in unit, line
    config = root / "etc/edgeface/edgeface.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "etc/edgeface").stat().st_mode) == 0o750
    cfg = load_config(config)
    assert cfg.models_dir == Path("/opt/edgeface/models")
    assert cfg.state_dir == Path("/var/lib/edgeface")
    assert cfg.camera.source == "opencv", "no picamera2 here: the USB/V4L2 camera is the default"
    models = root / "opt/edgeface/models"
    assert (models / "face_detection_yunet_2026may.onnx").read_bytes() == (
        ROOT / "models/face_detection_yunet_2026may.onnx"
    ).read_bytes()
    assert (models / "LICENSE-YuNet-MIT.txt").exists()
    assert (root / "opt/edgeface/src/edgeface/app.py").exists()
    assert not (root / "opt/edgeface/src/.venv").exists()


def test_an_existing_config_is_kept_on_reinstall(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/edgeface").mkdir(parents=True)
    (root / "etc/edgeface/edgeface.yaml").write_text("device_id: mine\n")
    done = install(root)
    assert (root / "etc/edgeface/edgeface.yaml").read_text() == "device_id: mine\n"
    assert "keeping existing" in done.stdout
