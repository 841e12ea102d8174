"""Time in tests: waiting for what a thread or a child process does, and a clock the test moves by hand.

Every wait of tests/support for a grant, an event, a log line, a message or a server goes through
:func:`scaled`: ``EDGEFACE_TEST_TIME_SCALE=20`` gives each twenty times as long, so the same tests pass on a
machine that is that much slower (the emulated arm64 root of ``make test-arm64``). It only lengthens how
long a test waits for what must happen; what must not happen within a time is the test's own business.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

TIME_SCALE_VARIABLE = "EDGEFACE_TEST_TIME_SCALE"


def read_time_scale(environ: Mapping[str, str]) -> float:
    """The factor in ``environ`` (1 when unset); ValueError naming the variable when it is not a number >= 1."""
    text = environ.get(TIME_SCALE_VARIABLE, "1")
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not scale >= 1:  # also refuses nan
        raise ValueError(f"{TIME_SCALE_VARIABLE}={text!r}: need a number >= 1 (how many times slower this machine is)")
    return scale


TIME_SCALE = read_time_scale(os.environ)


def scaled(seconds: float) -> float:
    """``seconds`` of waiting on a reference machine, stretched by ``EDGEFACE_TEST_TIME_SCALE``."""
    return seconds * TIME_SCALE


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Return once ``condition()`` holds; AssertionError naming ``what`` if not within ``timeout`` s (scaled)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


class Clock:
    """A clock that stands still until the test moves ``now``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
