"""An in-memory camera: the frames a test hands it, through the same ``Camera`` interface as a real one."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from types import TracebackType

from edgeface.capture.camera import CaptureStats
from edgeface.values import Frame


class MemoryCamera:
    """Returns the frames it was given, oldest first, then None (as a camera with nothing new would)."""

    def __init__(self, frames: Iterable[Frame] = ()) -> None:
        self._frames: deque[Frame] = deque(frames)
        self._read = 0
        self.closed = False

    def feed(self, *frames: Frame) -> None:
        """Queue more frames, as if the camera had just delivered them."""
        self._frames.extend(frames)

    def read(self, timeout: float) -> Frame | None:
        if self._frames:
            self._read += 1
            return self._frames.popleft()
        # A real camera blocks for up to ``timeout``; a short nap keeps a loop under test from spinning.
        time.sleep(min(timeout, 0.01))
        return None

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(self._read, self._read, 0, online=not self.closed, ended=False)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> MemoryCamera:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
