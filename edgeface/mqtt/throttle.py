"""Warnings about what anyone on the broker can send, folded so that a flood cannot flood the journal.

A door logs one WARNING line per message it refuses (a bad command, a forged fleet record), but at
most ``burst`` lines per ``period`` seconds: the rest are counted and summed up in one line when the
next period begins, rather than pushing the journal past its rate limit, which would hide the lines
that matter.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

__all__ = ["WarningThrottle"]


class WarningThrottle:
    """At most ``burst`` warnings per ``period`` seconds on ``log``; the rest are counted, then summed up."""

    def __init__(
        self, log: logging.Logger, clock: Callable[[], float], burst: int, period: float, *, what: str
    ) -> None:
        """``what`` names the refused things in the summing-up line (``MQTT commands``, ``fleet records``)."""
        self._log, self._clock, self._burst, self._period, self._what = log, clock, burst, period, what
        self._since = -math.inf
        self._logged = self._held = 0

    def warning(self, message: str, *args: object) -> None:
        now = self._clock()
        if not 0.0 <= now - self._since < self._period:
            if self._held:
                self._log.warning(
                    "ignored %d more %s in the last %.0f s (not logged one by one)",
                    self._held,
                    self._what,
                    now - self._since,
                )
            self._since, self._logged, self._held = now, 0, 0
        if self._logged < self._burst:
            self._logged += 1
            self._log.warning(message + ("" if self._logged < self._burst else "; more are counted, not logged"), *args)
        else:
            self._held += 1
