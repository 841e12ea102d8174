"""``camera``: which capture backend, and how it is opened and reopened."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgeface.config.base import Section


class CameraConfig(Section):
    source: Literal["file", "opencv", "picamera2"] = Field("file", description="Capture backend.")
    path: str | None = Field(None, description="file: a video or a folder of images; null = the bundled demo clip.")
    device: str = Field("0", description="opencv: a V4L2 index (0) or a stream URL (rtsp://, http://).")
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(480, ge=64, le=4096)
    fps: float = Field(15.0, gt=0.0, le=120.0, description="Frame rate cap (file: playback rate).")
    loop: bool = Field(True, description="file: start again at the end.")
    reopen_max_seconds: float = Field(30.0, ge=0.1, le=3600.0, description="Longest wait between reopen attempts.")
