"""Paho runs our callbacks on its network thread: an exception escaping one would end that thread."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")


def guarded(log: logging.Logger, what: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Log an exception escaping a paho callback on ``log`` (as "error in <what> callback NAME") and carry on."""

    def decorate(callback: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(callback)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                callback(*args, **kwargs)
            except Exception:
                log.exception("error in %s callback %s", what, callback.__name__)

        return run

    return decorate
