"""``camera``: which capture backend, and how it is opened and reopened."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_serializer

from edgeface.config.base import Section


def redact_url(url: str) -> str:
    """A stream URL with its user and password replaced by ``***``: for messages and ``config show``."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    return parts._replace(netloc=f"***@{parts.hostname}{f':{parts.port}' if parts.port else ''}").geturl()


class CameraConfig(Section):
    source: Literal["file", "opencv", "picamera2"] = Field("file", description="Capture backend.")
    path: str | None = Field(None, description="file: a video or a folder of images; null = the bundled demo clip.")
    device: str = Field("0", description="opencv: a V4L2 index (0) or a stream URL (rtsp://, http://).")
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(480, ge=64, le=4096)
    fps: float = Field(15.0, gt=0.0, le=120.0, description="Frame rate cap (file: playback rate).")
    loop: bool = Field(True, description="file: start again at the end.")
    reopen_max_seconds: float = Field(30.0, ge=0.1, le=3600.0, description="Longest wait between reopen attempts.")

    @field_serializer("device", when_used="json")
    def _hide_credentials(self, device: str) -> str:
        return redact_url(device)
