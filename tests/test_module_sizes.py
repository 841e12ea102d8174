"""Module sizes, read from the source: no module over 400 lines, and the frame loop, which only schedules, under 250."""

from __future__ import annotations

from pathlib import Path

import edgeface

PACKAGE = Path(edgeface.__file__).parent
MAX_LINES = 400
LOOP_MAX_LINES = 250


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_400_lines() -> None:
    over = {str(p.relative_to(PACKAGE)): lines(p) for p in PACKAGE.rglob("*.py") if lines(p) > MAX_LINES}
    assert over == {}, "split these by job"


def test_the_frame_loop_only_schedules_in_at_most_250_lines() -> None:
    assert lines(PACKAGE / "daemon" / "loop.py") <= LOOP_MAX_LINES, "move work out of the loop into the part it is"
