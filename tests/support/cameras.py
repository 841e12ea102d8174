"""A real camera seen through a test's hand: the base for wrappers that delay or withhold its frames."""

from __future__ import annotations

from edgeface.capture.camera import Camera, CaptureStats
from edgeface.values import Frame


class WrappedCamera:
    """Passes everything to the real camera it wraps; a subclass changes ``read`` only."""

    def __init__(self, inner: Camera) -> None:
        self.inner = inner

    def read(self, timeout: float) -> Frame | None:
        return self.inner.read(timeout)

    @property
    def stats(self) -> CaptureStats:
        return self.inner.stats

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> WrappedCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
