"""Reading the boxes back out of a drawn picture (a JPEG from the live stream, or the drawing function's output).

A face counts as boxed when all four sides of its box (give or take :data:`SLACK` px) are lines drawn
over the original picture: most pixels along each side changed, and their mean colour is nearest one
of :data:`~edgeface.vision.annotate.COLOURS`. Labels and leader lines are never four such sides.
"""

from __future__ import annotations

import numpy as np

from edgeface.values import Face, Image
from edgeface.vision.annotate import COLOURS, RIM, Style

SLACK = 3
"""How far (px) a drawn side may sit from the box given: JPEG blurs a line, a box is rounded to pixels."""
CHANGED = 40
"""A pixel differing from the original by more than this (largest channel) is drawn on."""
COVERED = 0.6
"""The share of a side's pixels that must be drawn on."""


def boxed(drawn: Image, original: Image, face: Face) -> Style | None:
    """The style of the box drawn around ``face``, or None when it has no box."""
    x, y, w, h = (round(v) for v in face.box)
    height, width = drawn.shape[:2]
    changed = np.abs(drawn.astype(np.int16) - original.astype(np.int16)).max(axis=2) > CHANGED
    sides: list[tuple[slice, slice]] = []
    for horizontal, at in ((True, y), (True, y + h), (False, x), (False, x + w)):
        best: tuple[float, slice, slice] | None = None
        for offset in range(-SLACK, SLACK + 1):
            line = at + offset
            if not 0 <= line < (height if horizontal else width):
                continue
            across = slice(line, line + 1)
            rows, cols = (across, slice(x, x + w)) if horizontal else (slice(y, y + h), across)
            share = float(changed[rows, cols].mean()) if changed[rows, cols].size else 0.0
            if best is None or share > best[0]:
                best = (share, rows, cols)
        if best is None or best[0] < COVERED:
            return None
        sides.append(best[1:])
    # The style: the palette colour most changed pixels about the sides are nearest, the dark rim aside.
    band = np.zeros_like(changed)
    for rows, cols in sides:
        band[max(0, rows.start - SLACK) : rows.stop + SLACK, max(0, cols.start - SLACK) : cols.stop + SLACK] = True
    pixels = drawn[band & changed].astype(np.float64)
    palette = np.array([*COLOURS.values(), RIM], np.float64)
    nearest = np.linalg.norm(pixels[:, None, :] - palette[None, :, :], axis=2).argmin(axis=1)
    votes = np.bincount(nearest, minlength=len(palette))[: len(COLOURS)]
    return list(COLOURS)[int(votes.argmax())]
