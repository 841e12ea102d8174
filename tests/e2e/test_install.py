"""deploy/install.sh into a throwaway root: the files a Pi install lays out, with the right modes, and a unit
that systemd's own tools accept and rate as well hardened."""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from edgeface.config import load_config
from tests.support.broker import Broker, Collector, free_port
from tests.support.configs import mqtt_section, write_config
from tests.support.data import ROOT
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

UNIT = ROOT / "systemd" / "edgeface.service"
MAX_EXPOSURE = 4.5
"""The highest ``systemd-analyze security`` exposure the unit may have (it was 6.9 before hardening)."""


def execstack_tool() -> ModuleType:
    """deploy/execstack.py, the installer's check for libraries that need an executable stack."""
    spec = importlib.util.spec_from_file_location("execstack", ROOT / "deploy" / "execstack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        "MemoryDenyWriteExecute=true",
        "DevicePolicy=closed",
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
    # The non-commercial EdgeFace weights travel with the notice that says so (never the default embedder).
    assert (models / "NOTICE-EdgeFace-weights-CC-BY-NC-SA-4.0.txt").exists()
    assert (root / "opt/edgeface/src/edgeface/app.py").exists()
    assert not (root / "opt/edgeface/src/.venv").exists()


def test_an_existing_config_is_kept_on_reinstall(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/edgeface").mkdir(parents=True)
    (root / "etc/edgeface/edgeface.yaml").write_text("device_id: mine\n")
    done = install(root)
    assert (root / "etc/edgeface/edgeface.yaml").read_text() == "device_id: mine\n"
    assert "keeping existing" in done.stdout


def test_systemd_analyze_verify_accepts_the_installed_unit_without_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root)
    # The venv these tests run in stands in for the one install.sh builds (it needs the network).
    (root / "opt/edgeface/venv").symlink_to(sys.prefix)
    unit = tmp_path / "edgeface.service"
    unit.write_text((root / "etc/systemd/system/edgeface.service").read_text().replace("/opt/", f"{root}/opt/"))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    # verify exits 0 on unknown keys and bad values; it only warns, so any output is a failure.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_systemd_analyze_security_rates_the_unit_at_most_4_5() -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--threshold={MAX_EXPOSURE * 10:.0f}", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for edgeface.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE and done.returncode == 0, done.stdout
    passed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("✓")}
    for setting in ("CapabilityBoundingSet=~CAP_SYS_ADMIN", "MemoryDenyWriteExecute=", "SystemCallFilter=~@privileged"):
        assert setting in passed, setting


def test_the_unit_names_no_supplementary_group_that_could_be_missing() -> None:
    # A group named in SupplementaryGroups= that the system lacks stops the unit (216/GROUP); the
    # installer puts the user in the groups that exist instead.
    assert not [line for line in UNIT.read_text().splitlines() if line.startswith("SupplementaryGroups=")]


@pytest.mark.parametrize(
    ("groups", "joined", "missing"),
    [
        pytest.param(["gpio:x:997:", "video:x:44:"], {"gpio", "video"}, set(), id="raspberry-pi-os"),
        pytest.param(["video:x:44:"], {"video"}, {"gpio"}, id="debian-or-jetson-without-gpio"),
    ],
)
def test_the_installer_puts_the_user_in_the_device_groups_the_system_has(
    tmp_path: Path, groups: list[str], joined: set[str], missing: set[str]
) -> None:
    root = tmp_path / "image"
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "group").write_text("\n".join(["root:x:0:", *groups]) + "\n")
    (etc / "gshadow").write_text("".join(f"{g.split(':')[0]}:*::\n" for g in ["root", *groups]))
    first = install(root).stdout
    again = install(root).stdout
    entries = [line.split(":") for line in (etc / "group").read_text().splitlines()]
    members = [name for name, _, _, users in entries if "edgeface" in users.split(",")]
    assert sorted(members) == sorted(joined), "each device group that exists, once"
    [user] = [line.split(":") for line in (etc / "passwd").read_text().splitlines() if line.startswith("edgeface:")]
    assert [gid for name, _, gid, _ in entries if name == "edgeface"] == [user[3]], "Group=edgeface exists"
    assert "created system user edgeface" in first and "created system user" not in again
    for group in missing:
        assert f"no {group} group here" in first


def test_the_daemon_and_its_relay_lock_work_in_the_units_system_call_sandbox(tmp_path: Path, broker: Broker) -> None:
    """numpy, onnxruntime, OpenCV, SQLite, paho and the HTTP servers run under the unit's SystemCallFilter=,
    RestrictAddressFamilies= and MemoryDenyWriteExecute=: from the models loading to a decision published
    to the broker, a scrape, a reload, a clean stop and the relay lock that systemd runs after it."""
    metrics, web = free_port(), free_port()
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(still_frames(tmp_path / "frames", count=3)), "fps": 10},
        mqtt=mqtt_section(broker),
        metrics={"port": metrics},
        web={"enabled": True, "port": web},
    )
    sandbox = [sys.executable, "-m", "tests.support.sandbox", str(UNIT)]
    with (
        Collector(broker, [f"edgeface/{yaml.safe_load(config.read_text())['device_id']}/event"]) as events,
        DaemonProcess(config, wrapper=sandbox) as daemon,
    ):
        wait_until(lambda: bool(events.messages()) or daemon.proc.poll() is not None, 60, "the stranger's event")
        assert daemon.proc.poll() is None, "\n".join([f"exit {daemon.proc.returncode}", *daemon.lines()[-20:]])
        for url in (f"http://127.0.0.1:{metrics}/metrics", f"http://127.0.0.1:{web}/health.json"):
            assert urllib.request.urlopen(url, timeout=5).status == 200
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("reloaded ", 20)
        assert daemon.terminate(15) == 0
    lock = [*sandbox, sys.executable, "-m", "edgeface", "--config", str(config), "relay", "lock"]
    done = subprocess.run(lock, capture_output=True, text=True, check=False, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_a_library_that_needs_an_executable_stack_turns_memory_deny_write_execute_off_and_says_so(
    tmp_path: Path,
) -> None:
    tool = execstack_tool()
    root = tmp_path / "root"
    venv = root / "opt/edgeface/venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python3*/site-packages")
    # A real extension module, marked as linked without -z noexecstack.
    origin = importlib.util.find_spec("_json")
    assert origin and origin.origin
    lib = site / "needs_exec_stack.so"
    shutil.copy(origin.origin, lib)
    stack = tool.gnu_stack(lib)
    assert stack is not None
    data = bytearray(lib.read_bytes())
    order = "little" if data[5] == 1 else "big"
    data[stack[0] : stack[0] + 4] = (stack[1] | tool.PF_X).to_bytes(4, order)
    lib.write_bytes(data)
    load = [sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(lib)!r})"]
    assert subprocess.run(load, check=False).returncode == 0, "it loads without the sandbox"
    sandbox = [sys.executable, "-m", "tests.support.sandbox", str(UNIT)]
    sandboxed = subprocess.run([*sandbox, *load], capture_output=True, text=True, check=False, cwd=ROOT)
    assert "cannot enable executable stack" in sandboxed.stderr, "and is refused under MemoryDenyWriteExecute"

    said = install(root).stdout
    dropin = root / "etc/systemd/system/edgeface.service.d/memory-deny-write-execute.conf"
    assert "MemoryDenyWriteExecute turned off" in said and str(lib) in said
    assert str(lib) in dropin.read_text() and "[Service]\nMemoryDenyWriteExecute=false\n" in dropin.read_text()
    lib.unlink()
    install(root)
    assert not dropin.exists(), "a venv without such a library keeps the unit's MemoryDenyWriteExecute=true"


@pytest.mark.parametrize(
    ("glibc", "python", "refusal"),
    [
        ("2.31", "3.8", "glibc 2.31 is older than 2.34, which edgeface's Python wheels need"),  # JetPack 5
        ("2.36", "3.9", "python3 is 3.9, edgeface needs 3.10 or newer"),  # Raspberry Pi OS bullseye with a new libc
        ("2.34", "3.10", None),  # the floor
        ("2.36", "3.11", None),  # Raspberry Pi OS bookworm
    ],
)
def test_install_refuses_a_system_older_than_the_wheels_need(
    tmp_path: Path, glibc: str, python: str, refusal: str | None
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in {
        "getconf": f'[ "$1" = GNU_LIBC_VERSION ] && echo "glibc {glibc}"',
        # Answers the version question, then stops the install where it would build the venv: nothing is downloaded.
        "python3": f'[ "$1" = -c ] && echo {python} && exit 0; exit 3',
    }.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / name).chmod(0o755)
    root = tmp_path / "root"
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "install.sh"), "--prefix", str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    if refusal:
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert (
            done.stderr == f"install.sh: {refusal}; supported: Raspberry Pi OS bookworm, JetPack 6 (not JetPack 5 "
            "or Raspberry Pi OS bullseye)\n"
        )
        assert not root.exists(), "nothing is laid out"
    else:
        assert done.returncode == 3, done.stderr
        assert "installing into" in done.stdout, "it went on past the check"
