"""Capture backends: blocking sources of BGR pictures.

Each backend opens, grabs and closes one kind of source: a video file or a
folder of photos (``file``), a V4L2 device or an rtsp/http stream through
OpenCV (``opencv``), or the Raspberry Pi camera (``picamera2``, in
``edgeface.capture.picamera``). Threading, pacing and reconnection live in
``edgeface.capture.camera``; a source only has to fail loudly, in one CameraError: OpenCV's and
FFmpeg's own log lines (``[tcp @ 0x...] Connection ... refused``, ``[ WARN:0@0.1] global cap.cpp ...``)
are silenced, as they would only repeat it, less clearly, before it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edgeface.capture.picamera import Picamera2Source
from edgeface.config import CameraConfig
from edgeface.config.camera import redact_url
from edgeface.errors import CameraError, ImageError
from edgeface.values import Image
from edgeface.vision.images import PHOTO_SUFFIXES, has_photo_suffix, load_image, quiet_opencv

# FFmpeg reads its log level once, when OpenCV first uses it, and prints straight to stderr: set before any
# capture is opened (-8 is AV_LOG_QUIET). An operator may still ask for FFmpeg's lines by setting it.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

log = logging.getLogger(__name__)

STREAM_TIMEOUT_SECONDS = 5.0
"""Longest an opencv stream (rtsp/http) may block before it counts as failed."""


class Source(Protocol):
    """A blocking backend, used from one thread at a time."""

    name: str
    """For messages; never contains credentials."""
    period: float | None
    """Seconds between frames when the grabber must pace reads (files); None for live sources."""

    def open(self) -> None:
        """Raise CameraError naming the source if it cannot be opened."""

    def grab(self) -> Image | None:
        """The next BGR picture; None at the end of a non-looping file; raise when the source fails."""

    def close(self) -> None:
        """Release the source; idempotent."""


class FileSource:
    """A video file, or a folder of images played in sorted name order, at ``fps`` in real time."""

    def __init__(self, path: Path, *, fps: float, loop: bool) -> None:
        self.path = path
        self.name = str(path)
        self.period: float | None = 1.0 / fps
        self.loop = loop
        self._video: cv2.VideoCapture | None = None
        self._files: list[Path] = []
        self._next = 0
        self._refused: dict[Path, tuple[int, int]] = {}
        """Pictures refused, with the (mtime, size) they had: not read again until they change."""

    def open(self) -> None:
        self.close()
        if self.path.is_dir():
            # By name only: a file that cannot be read (or hangs, on a dead mount) is the reader's problem,
            # reported and guarded against like any camera failure, not silently skipped here.
            self._files = sorted(p for p in self.path.iterdir() if has_photo_suffix(p))
            if not self._files:
                raise CameraError(f"{self.path}: no images ({', '.join(sorted(PHOTO_SUFFIXES))}) in this folder")
            self._next = 0
        elif self.path.is_file():
            with quiet_opencv():
                video = cv2.VideoCapture(str(self.path))
            if not video.isOpened():
                video.release()
                raise CameraError(f"{self.path}: not a video OpenCV can read")
            self._video = video
        else:
            raise CameraError(f"{self.path}: no such video file or image folder")

    def grab(self) -> Image | None:
        if self._video is not None:
            return self._grab_video(self._video)
        if not self._files:
            raise CameraError(f"{self.path}: not open")
        return self._grab_image()

    def _grab_video(self, video: cv2.VideoCapture) -> Image | None:
        # An open file stays readable after it is deleted; check the path so removal is noticed now.
        if not self.path.is_file():
            raise CameraError(f"{self.path}: file vanished")
        ok, image = video.read()
        if ok and image is not None:
            return np.asarray(image, dtype=np.uint8)
        if not self.loop:
            return None
        self.open()  # reopen rather than seek: cheap, and it follows a file replaced in place
        assert self._video is not None
        ok, image = self._video.read()
        if not ok or image is None:
            raise CameraError(f"{self.path}: no frames could be read")
        return np.asarray(image, dtype=np.uint8)

    def _grab_image(self) -> Image | None:
        for _ in range(len(self._files)):
            if self._next >= len(self._files):
                if not self.loop:
                    return None
                self.open()  # list the folder again: pictures may have been added or removed
            path = self._files[self._next]
            self._next += 1
            try:
                st = path.stat()
            except OSError as exc:
                raise CameraError(f"{path}: file vanished") from exc
            seen = (st.st_mtime_ns, st.st_size)
            if self._refused.get(path) == seen:
                continue  # refused before and unchanged: decoding it again would only cost the loop time
            try:
                return load_image(path)
            except ImageError as exc:
                if not path.exists():
                    raise CameraError(f"{path}: file vanished") from exc
                self._refused[path] = seen  # reported once, not on every loop
                log.warning("skipping %s", exc)
        raise CameraError(f"{self.path}: no readable images in this folder")

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
        self._files = []


class OpenCVSource:
    """A V4L2 device (index ``0`` or ``/dev/video0``) or a network stream (``rtsp://``, ``http://``)."""

    def __init__(self, device: str, *, width: int, height: int, fps: float) -> None:
        self.device = device
        self.name = redact_url(device)
        self.period: float | None = None
        self.width, self.height, self.fps = width, height, fps
        self._video: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        with quiet_opencv():
            video = self._capture()
        if not video.isOpened():
            video.release()
            raise CameraError(f"camera {self.name}: cannot open (camera.device)")
        if "://" not in self.device:
            video.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            video.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            video.set(cv2.CAP_PROP_FPS, self.fps)
        video.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's queue would otherwise hand out old frames
        self._video = video

    def _capture(self) -> cv2.VideoCapture:
        if self.device.isdigit():
            backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
            return cv2.VideoCapture(int(self.device), backend)
        if "://" in self.device:
            # Bound FFmpeg's open and read waits, else a dead stream blocks the grabber for ~30 s.
            ms = int(STREAM_TIMEOUT_SECONDS * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            return cv2.VideoCapture(self.device, cv2.CAP_FFMPEG, params)
        return cv2.VideoCapture(self.device)

    def grab(self) -> Image:
        if self._video is None:
            raise CameraError(f"camera {self.name}: not open")
        with quiet_opencv():
            ok, image = self._video.read()
        if not ok or image is None:
            raise CameraError(f"camera {self.name}: stopped delivering frames")
        return np.asarray(image, dtype=np.uint8)

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None


def make_source(cfg: CameraConfig, path: Path) -> Source:
    """The backend for ``cfg.source``; ``path`` is the file source's (``Config.camera_path``)."""
    if cfg.source == "file":
        return FileSource(path, fps=cfg.fps, loop=cfg.loop)
    if cfg.source == "opencv":
        return OpenCVSource(cfg.device, width=cfg.width, height=cfg.height, fps=cfg.fps)
    return Picamera2Source(width=cfg.width, height=cfg.height, fps=cfg.fps)
