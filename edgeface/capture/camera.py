"""Capture: frames from a camera, a stream, a video file or a folder of photos.

Every backend is a blocking ``Source`` (open / grab / close) wrapped in a
``LatestFrameGrabber``: a thread reads continuously and keeps only the newest
frame, so a slow pipeline always works on a recent picture instead of a queue
of stale ones. A source that fails or vanishes is closed and reopened with
exponential backoff; each outage is logged once when it starts and once when
it ends. ``open_camera`` picks the backend from the ``camera`` config section.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from edgeface.capture.sources import Source, make_source
from edgeface.config import CameraConfig
from edgeface.errors import CameraError
from edgeface.values import JOURNAL, Frame, Image

log = logging.getLogger(__name__)

_FIRST_RETRY_SECONDS = 0.1
_JOIN_SECONDS = 3.0


@dataclass(frozen=True)
class CaptureStats:
    """Counters for metrics: a snapshot, cheap to take."""

    frames_read: int
    """Frames delivered by the source (including those nobody asked for)."""
    frames_returned: int
    """Frames handed out by ``read``; the difference was skipped as stale."""
    reconnects: int
    """Outages recovered from."""
    online: bool
    ended: bool
    """A non-looping file has played to its end."""


class Camera(Protocol):
    """A source of frames for the pipeline."""

    def read(self, timeout: float) -> Frame | None:
        """The newest frame not returned before, or None if none arrives within ``timeout`` seconds."""
        ...

    @property
    def stats(self) -> CaptureStats: ...

    def close(self) -> None: ...

    def __enter__(self) -> Camera: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class LatestFrameGrabber:
    """Reads a source on a thread, keeps the newest frame, reopens it with backoff when it fails.

    The source is opened once here, so a misconfigured camera fails at start-up with a CameraError,
    and later failures are retried until ``close()``. With ``wait`` (the daemon) a camera that cannot
    be opened at start is an outage like any later one: one warning, then retries with backoff.
    """

    def __init__(self, source: Source, *, reopen_max_seconds: float = 30.0, wait: bool = False) -> None:
        self._source = source
        self._reopen_max = reopen_max_seconds
        failure = _first_open(source, wait)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._latest: Frame | None = None
        self._returned = -1
        self._frames_read = self._frames_returned = self._reconnects = 0
        self._online = failure is None
        if failure is not None:
            log.warning("%s; retrying (backoff up to %g s)", failure, reopen_max_seconds)
        self._ended = self._closed = False
        self._delay = _FIRST_RETRY_SECONDS
        self._thread = threading.Thread(target=self._run, args=(failure,), name=f"capture {source.name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self._source.name

    @property
    def stats(self) -> CaptureStats:
        with self._cond:
            return CaptureStats(self._frames_read, self._frames_returned, self._reconnects, self._online, self._ended)

    def read(self, timeout: float) -> Frame | None:
        """The newest frame not returned before; None on timeout, at the end of a file, or once closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                latest = self._latest
                if latest is not None and latest.index > self._returned:
                    self._returned = latest.index
                    self._frames_returned += 1
                    return latest
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    return None
                self._cond.wait(remaining)
        return None

    def close(self) -> None:
        """Stop the thread and release the source. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._stop.set()
        self._thread.join(_JOIN_SECONDS)
        if self._thread.is_alive():
            log.warning("camera %s is still blocked in a read; it is released when that returns", self.name)

    def __enter__(self) -> LatestFrameGrabber:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, failed_at_start: CameraError | None) -> None:
        # The source is only ever touched from this thread from here on, including its final close().
        try:
            if failed_at_start is not None and not self._reopen(failed_at_start):
                return
            next_at = time.monotonic()
            while not self._stop.is_set():
                period = self._source.period
                if period is not None:
                    delay = next_at - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    # After a stall (an outage, a slow disk) resume from now rather than burst to catch up.
                    next_at = max(next_at, time.monotonic() - period) + period
                try:
                    image = self._source.grab()
                except Exception as exc:
                    if not self._reopen(exc):
                        break
                    continue
                if image is None:
                    with self._cond:
                        self._ended = True
                        self._cond.notify_all()
                    log.info("camera %s: end of file", self.name)
                    break
                self._publish(image)
        finally:
            self._source.close()

    def _publish(self, image: Image) -> None:
        ts = time.time()
        with self._cond:
            if not self._online:
                self._online = True
                self._reconnects += 1
                self._delay = _FIRST_RETRY_SECONDS
                log.info("camera %s is back", self.name, extra=JOURNAL)
            self._latest = Frame(image=image, ts=ts, index=self._frames_read)
            self._frames_read += 1
            self._cond.notify_all()

    def _reopen(self, exc: Exception) -> bool:
        """Close and reopen the source with backoff; False if asked to stop meanwhile."""
        with self._cond:
            went_offline, self._online = self._online, False
        if went_offline:
            log.warning("camera %s failed: %s; reopening (backoff up to %g s)", self.name, exc, self._reopen_max)
        else:
            log.debug("camera %s failed again: %s", self.name, exc)
        self._source.close()
        while not self._stop.wait(self._delay):
            # The delay is reset only when frames flow, so open-then-fail cycles back off too.
            self._delay = min(self._delay * 2, self._reopen_max)
            try:
                self._source.open()
            except Exception as error:
                log.debug("camera %s: reopen failed: %s", self.name, error)
                continue
            return True
        return False


def _first_open(source: Source, wait: bool) -> CameraError | None:
    """Open ``source``; what went wrong when ``wait`` (raised otherwise), None once it is open."""
    try:
        source.open()
    except CameraError as exc:
        if not wait:
            raise
        return exc
    except Exception as exc:
        error = CameraError(f"camera {source.name}: cannot open ({exc})")
        if not wait:
            raise error from exc
        return error
    return None


def open_camera(cfg: CameraConfig, path: Path, *, wait: bool = False) -> Camera:
    """Open the configured camera behind a latest-frame grabber; CameraError if it cannot be opened, unless
    ``wait``: then it is retried as an outage (see :class:`LatestFrameGrabber`)."""
    return LatestFrameGrabber(make_source(cfg, path), reopen_max_seconds=cfg.reopen_max_seconds, wait=wait)
