"""The DET curve of a liveness score (``bench liveness --plot``): APCER against BPCER, one curve per species.

Both axes are on the normal-deviate (probit) scale, as ISO/IEC 19795-1 draws
DET curves, so the low error rates a door runs at are readable. Rates of 0 or 1
are drawn at the axis' ends. Drawn with OpenCV, so no plotting library is needed on a Pi.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import cv2
import numpy as np

from edgeface.liveness.rates import Sample, apcer, bpcer, det_points, species_of
from edgeface.values import Image

log = logging.getLogger(__name__)

LOW, HIGH = 0.002, 0.98
"""The axes' range of rates."""
TICKS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95)
COLOURS = ((60, 60, 220), (200, 120, 0), (60, 170, 60), (160, 60, 160), (0, 140, 200))
_NORMAL = NormalDist()


def _deviate(rate: float) -> float:
    return _NORMAL.inv_cdf(min(max(rate, LOW), HIGH))


def render_det(samples: Sequence[Sample], marks: Mapping[str, float], width: int = 640, height: int = 560) -> Image:
    """One curve per attack species; ``marks`` (name → threshold) are drawn as dots on each curve."""
    canvas = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 60, width - 20, 40, height - 50
    lo, hi = _deviate(LOW), _deviate(HIGH)

    def point(b: float, a: float) -> tuple[int, int]:
        x = left + (_deviate(b) - lo) / (hi - lo) * (right - left)
        y = bottom - (_deviate(a) - lo) / (hi - lo) * (bottom - top)
        return round(x), round(y)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for tick in TICKS:
        x, y = point(tick, tick)
        cv2.line(canvas, (x, top), (x, bottom), (225, 225, 225), 1)
        cv2.line(canvas, (left, y), (right, y), (225, 225, 225), 1)
        label = f"{100 * tick:g}"
        cv2.putText(canvas, label, (x - 8, bottom + 16), font, 0.35, (0, 0, 0), 1)
        cv2.putText(canvas, label, (left - 30, y + 4), font, 0.35, (0, 0, 0), 1)
    cv2.rectangle(canvas, (left, top), (right, bottom), (0, 0, 0), 1)
    cv2.putText(canvas, "BPCER % (live faces refused)", (left + 150, height - 12), font, 0.45, (0, 0, 0), 1)
    cv2.putText(canvas, "APCER %", (5, top - 10), font, 0.45, (0, 0, 0), 1)
    for i, name in enumerate(species_of(samples)):
        colour = COLOURS[i % len(COLOURS)]
        curve = np.array([point(b, a) for _, b, a in det_points(samples, name)], np.int32)
        if len(curve):
            cv2.polylines(canvas, [curve.reshape(-1, 1, 2)], False, colour, 2)
        for label, threshold in marks.items():
            x, y = point(bpcer(samples, threshold) or 0.0, apcer(samples, threshold, name) or 0.0)
            cv2.circle(canvas, (x, y), 4, colour, -1)
            cv2.putText(canvas, label, (x + 5, y - 5), font, 0.35, colour, 1)
        cv2.putText(canvas, name, (right - 110, top + 18 + 18 * i), font, 0.5, colour, 1)
    cv2.putText(canvas, "liveness DET: APCER per species vs BPCER", (left, 22), font, 0.5, (0, 0, 0), 1)
    return canvas
