"""A sliding-window rate limit that logs one warning per burst, not one per refusal.

Used by the service for recognition decisions (``daemon.decisions_per_minute``) and remote
unlocks (``mqtt.remote_unlock.per_minute``): a flood of look-alike photos held up to the camera,
or of unlock commands, is refused past the limit, and the log says so once when limiting starts
and once, with the count, when it ends.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0


class RateLimit:
    """At most ``per_window`` allowed calls in any ``window`` seconds (on ``clock``, monotonic by default)."""

    def __init__(
        self,
        what: str,
        per_window: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_window < 1:
            raise ValueError(f"a rate limit must allow at least 1, not {per_window}")
        self.what = what
        self.per_window = per_window
        self.window = window
        self._clock = clock
        self._allowed: deque[float] = deque()
        self._refused = 0

    def allow(self) -> bool:
        """True, and counted, if one more is within the limit now; False (logged once per burst) if not."""
        now = self._clock()
        while self._allowed and now - self._allowed[0] >= self.window:
            self._allowed.popleft()
        if len(self._allowed) < self.per_window:
            if self._refused:
                log.info("%s rate limit lifted; %d were refused while it held", self.what, self._refused)
                self._refused = 0
            self._allowed.append(now)
            return True
        if not self._refused:
            log.warning(
                "%s rate limit reached (%d per %g s): refusing more until the rate drops",
                self.what,
                self.per_window,
                self.window,
            )
        self._refused += 1
        return False
