"""The Raspberry Pi camera through picamera2, and what a machine lacks for it.

picamera2 drives libcamera through the Python bindings Raspberry Pi OS builds for its own libcamera
(``python3-libcamera``): neither is on PyPI in a usable form, so the pip package alone cannot work.
What works is the OS's ``python3-picamera2`` seen from a venv made with ``--system-site-packages``,
which is what ``deploy/install.sh`` sets up on Raspberry Pi OS. :func:`picamera2_missing` names
whichever of those a machine lacks, for the camera's error and for ``doctor``.

The calls below are checked against picamera2's real signatures (read from its wheel) by
``tests/capture/test_picamera2_api.py``; libcamera itself is only ever exercised on a Pi.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgeface.errors import CameraError
from edgeface.values import Image

log = logging.getLogger(__name__)

CAPTURE_TIMEOUT_SECONDS = 5.0
"""Longest a picamera2 capture may block before it counts as failed."""

APT_PACKAGE = "python3-picamera2"
SET_UP = (
    "on Raspberry Pi OS, sudo deploy/install.sh sets it up (apt install python3-picamera2, and a venv made "
    "with --system-site-packages); pip alone cannot, picamera2 needs the OS's libcamera"
)


def is_raspberry_pi_os(root: Path = Path("/")) -> bool:
    """Raspberry Pi OS (whose apt has python3-picamera2): its image leaves /etc/rpi-issue; 32-bit says raspbian."""
    if (root / "etc/rpi-issue").exists():
        return True
    try:
        release = (root / "etc/os-release").read_text()
    except OSError:
        return False
    return any(line.strip() in ("ID=raspbian", 'ID="raspbian"') for line in release.splitlines())


def apt_installed(package: str, root: Path = Path("/")) -> bool:
    """Whether dpkg lists ``package`` as installed."""
    try:
        status = (root / "var/lib/dpkg/status").read_text(errors="replace")
    except OSError:
        return False
    for stanza in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        if fields.get("Package") == package and fields.get("Status", "").endswith(" installed"):
            return True
    return False


def sees_system_packages(prefix: Path = Path(sys.prefix), base_prefix: Path = Path(sys.base_prefix)) -> bool:
    """Whether this interpreter imports the OS's Python packages: no venv, or one made --system-site-packages."""
    if prefix == base_prefix:
        return True
    try:
        config = (prefix / "pyvenv.cfg").read_text()
    except OSError:
        return False
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "include-system-site-packages":
            return value.strip().lower() == "true"
    return False


def picamera2_missing(
    root: Path = Path("/"), prefix: Path = Path(sys.prefix), base_prefix: Path = Path(sys.base_prefix)
) -> list[str]:
    """What this machine lacks for ``camera.source: picamera2``, in words; empty when it has it all."""
    missing = []
    if not is_raspberry_pi_os(root):
        missing.append("this is not Raspberry Pi OS (the only OS that packages picamera2 with its libcamera)")
    if not apt_installed(APT_PACKAGE, root):
        missing.append(f"the apt package {APT_PACKAGE} is not installed")
    if not sees_system_packages(prefix, base_prefix):
        missing.append(f"the venv {prefix} was made without --system-site-packages: it cannot see the OS's picamera2")
    return missing


class Picamera2Source:
    """A Raspberry Pi camera through libcamera; picamera2 is imported only when this backend opens."""

    def __init__(self, *, width: int, height: int, fps: float, camera_num: int = 0) -> None:
        self.name = f"picamera2:{camera_num}"
        self.period: float | None = None
        self.width, self.height, self.fps, self.camera_num = width, height, fps, camera_num
        self._camera: Any = None

    def open(self) -> None:
        self.close()
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            lacks = "; ".join(picamera2_missing()) or "the package is installed but does not import"
            raise CameraError(
                f"camera.source is picamera2 but picamera2 cannot be imported ({exc}): {lacks}. {SET_UP}; "
                "elsewhere use camera.source: opencv (a USB camera, or an rtsp:// stream)"
            ) from exc
        frame_us = int(1_000_000 / self.fps)
        try:
            camera = Picamera2(self.camera_num)
        except Exception as exc:
            raise CameraError(f"camera {self.name}: cannot open ({exc})") from exc
        try:
            # libcamera's "RGB888" is laid out B, G, R in memory: OpenCV's order, no conversion needed.
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},
                controls={"FrameDurationLimits": (frame_us, frame_us)},
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:
            camera.close()
            raise CameraError(f"camera {self.name}: cannot start at {self.width}×{self.height} ({exc})") from exc
        self._camera = camera

    def grab(self) -> Image:
        if self._camera is None:
            raise CameraError(f"camera {self.name}: not open")
        job = self._camera.capture_array("main", wait=False)
        image = self._camera.wait(job, timeout=CAPTURE_TIMEOUT_SECONDS)
        return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)

    def close(self) -> None:
        if self._camera is not None:
            camera, self._camera = self._camera, None
            camera.close()
