"""What the commands print: marks coloured only for a person at a terminal, JSON, suggestions, error lines.

Colour follows https://no-color.org: escape codes go to a terminal only, never into a pipe or a
file, and not at all when ``NO_COLOR`` is set to anything but the empty string.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from collections.abc import Iterable
from typing import TextIO

OK, FAIL = "✓", "✗"
_GREEN, _RED, _RESET = "\033[32m", "\033[31m", "\033[0m"


def wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR", ""):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint_marks(text: str, stream: TextIO | None = None) -> str:
    """``text`` with each ✓ green and each ✗ red when it is printed to a terminal that wants colour."""
    if not wants_colour(stream or sys.stdout):
        return text
    return text.replace(OK, f"{_GREEN}{OK}{_RESET}").replace(FAIL, f"{_RED}{FAIL}{_RESET}")


def mark(ok: bool) -> str:
    return OK if ok else FAIL


def print_json(data: object) -> None:
    """One JSON document on one line: what scripts and the tests parse."""
    print(json.dumps(data))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the :func:`closest` of ``choices``, or ``""`` when none is close."""
    close = closest(word, choices)
    return f"; did you mean {close!r}?" if close else ""


MIN_PREFIX = 3
"""The shortest beginning of a name that :func:`closest` takes for the name (``lin`` of ``lin_manuel_miranda``)."""
_NAME_PARTS = re.compile(r"[\s_.-]+")


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely meant, whatever the case: the one it begins, or one of whose parts it
    begins (``Meryl`` → ``meryl_streep``), else the most similar by difflib; None when none is close."""
    options = {choice.casefold(): choice for choice in choices}
    key = word.casefold()
    if len(key) >= MIN_PREFIX:
        begun = [f for f in options if f.startswith(key) or any(p.startswith(key) for p in _NAME_PARTS.split(f))]
        if begun:
            # A name that begins with the word before one that only has a part beginning with it, then the shortest.
            return options[min(begun, key=lambda f: (not f.startswith(key), len(f), f))]
    close = difflib.get_close_matches(key, list(options), n=1)
    return options[close[0]] if close else None


def plural(count: int, one: str, many: str) -> str:
    """``1 person``, ``2 people``."""
    return f"{count} {one if count == 1 else many}"


def error_lines(message: str) -> list[str]:
    """One ``edgeface: error:`` line per problem: a message of several lines carries several problems."""
    return [f"edgeface: error: {line}" for line in message.splitlines() if line.strip()] or ["edgeface: error"]
