"""The stall guard: a thread that notices a frame loop or a camera that stopped moving.

systemd's watchdog (``WatchdogSec``) restarts the service when the loop's ``WATCHDOG=1`` pings stop,
but only under systemd, only for the loop itself, and only after its own timeout. The guard
covers the rest, in the daemon itself:

* the frame loop has not come round for ``stall_seconds`` (a hung model, a wedged call);
* the camera says it is online but has delivered no frame for ``stall_seconds`` (a read that never
  returns: a wedged driver, a dead network mount). An *offline* camera is not a stall: the capture
  thread is retrying with backoff and recovers by itself.

On a stall the guard calls ``on_stall(reason)`` once. The daemon's handler locks the relay, logs one
error line and ends the process with :data:`EXIT_STALLED`, so the service manager starts a fresh
one (``Restart=on-failure``): a stuck thread cannot be unstuck from inside Python.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

EXIT_STALLED = 3
"""Exit status of a daemon ended by the stall guard."""
LOCK_ON_STALL_SECONDS = 2.0
"""How long the stall handler waits for the relay before exiting anyway."""


class StallGuard:
    """Watches two heartbeats: :meth:`beat` from the loop, and ``frames()`` (a counter) from the camera."""

    def __init__(
        self,
        stall_seconds: float,
        *,
        on_stall: Callable[[str], None],
        frames: Callable[[], tuple[int, bool]] | None = None,
        camera_stall_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``frames()`` returns (frames delivered so far, whether the camera claims to be online)."""
        if stall_seconds <= 0:
            raise ValueError(f"stall_seconds must be positive, not {stall_seconds}")
        self.stall_seconds = stall_seconds
        self.camera_stall_seconds = camera_stall_seconds or stall_seconds
        self._on_stall = on_stall
        self._frames = frames
        self._clock = clock
        self._beat = clock()
        self._where = "starting"
        self._last_frames = -1
        self._frames_moved = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgeface-stall-guard", daemon=True)

    def start(self) -> StallGuard:
        self._beat = self._frames_moved = self._clock()
        self._thread.start()
        return self

    def beat(self, where: str = "frame loop") -> None:
        """The loop is alive; ``where`` names what it is about to do (for the message if it hangs there)."""
        self._beat = self._clock()
        self._where = where

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def check(self) -> str | None:
        """The reason for a stall now, or None."""
        now = self._clock()
        idle = now - self._beat
        if idle > self.stall_seconds:
            return f"the frame loop has not come round for {idle:.0f} s (stuck in {self._where})"
        if self._frames is not None:
            count, online = self._frames()
            if count != self._last_frames or not online:
                self._last_frames, self._frames_moved = count, now
            elif now - self._frames_moved > self.camera_stall_seconds:
                return (
                    f"the camera has delivered no frame for {now - self._frames_moved:.0f} s "
                    "while reporting itself online (a read that never returns)"
                )
        return None

    def _run(self) -> None:
        period = min(1.0, self.stall_seconds / 4)
        while not self._stop.wait(period):
            try:
                reason = self.check()
            except Exception:
                log.exception("stall guard check failed")
                continue
            if reason is not None:
                self._on_stall(reason)
                return


def lock_and_exit(reason: str, lock: Callable[[], None], notify: Callable[[str], object]) -> None:
    """The daemon's stall handler: lock the door, say why in one line, and end the process for a restart."""
    log.error("stalled: %s; locking the door and exiting (status %d) to be restarted", reason, EXIT_STALLED)
    notify(f"STATUS=stalled: {reason}")
    # The stuck thread may hold the relay's lock: try from a helper thread, and give up after a moment.
    locker = threading.Thread(target=lock, name="edgeface-stall-lock", daemon=True)
    locker.start()
    locker.join(LOCK_ON_STALL_SECONDS)
    if locker.is_alive():
        log.error("could not lock the relay within %.0f s; exiting anyway", LOCK_ON_STALL_SECONDS)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(EXIT_STALLED)
