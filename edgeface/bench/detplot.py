"""DET plots: one error rate against the other, on log or normal-deviate axes, with operating points marked.

A DET curve puts the two errors of a threshold against each other — false accepts against false
rejects for recognition (``edgeface calibrate --plot``), APCER against BPCER for liveness
(``bench liveness --plot``) — so that the low rates a door runs at are readable, which a histogram
of scores or a linear ROC squeezes into a corner. ``log`` axes suit rates down to 1e-6 (a
recognition threshold); ``probit`` axes (the normal deviate, as ISO/IEC 19795-1 draws DET curves)
suit rates between a few tenths of a percent and 98 %. Rates outside an axis (0 included) are
drawn at its end.

Operating points (the threshold in force, a proposed one, the liveness levels) are drawn as one
shape each on every curve and named in a legend, never by text next to the point: points close
together would overprint their labels. :func:`layout` places every text; no two of them overlap,
which the tests check. Drawn with OpenCV, so no plotting library is needed on a Pi.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import cv2
import numpy as np

from edgeface.values import Image

log = logging.getLogger(__name__)

Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]
"""x0, y0, x1, y1 in pixels."""

COLOURS: tuple[Colour, ...] = ((60, 60, 220), (200, 120, 0), (60, 170, 60), (160, 60, 160), (0, 140, 200))
"""BGR, one per curve."""
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
"""One per operating point, in the order given."""
PROBIT_TICKS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95)
FONT = cv2.FONT_HERSHEY_SIMPLEX
TICK_FONT, TEXT_FONT = 0.35, 0.45
BLACK: Colour = (0, 0, 0)
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Scale:
    """One axis: which transform, the range of rates shown and where the grid lines go."""

    kind: Literal["log", "probit"]
    low: float
    high: float
    ticks: tuple[float, ...]

    @classmethod
    def log_decades(cls, low: float, high: float = 1.0) -> Scale:
        """A log axis from the decade at or below ``low`` to ``high``, a grid line at each decade."""
        first = math.floor(math.log10(low))
        ticks = tuple(10.0**k for k in range(first, math.floor(math.log10(high)) + 1))
        return cls("log", 10.0**first, high, ticks)

    @classmethod
    def probit(cls, low: float = 0.002, high: float = 0.98) -> Scale:
        return cls("probit", low, high, tuple(t for t in PROBIT_TICKS if low <= t <= high))

    def _value(self, rate: float) -> float:
        rate = min(max(rate, self.low), self.high)
        return math.log10(rate) if self.kind == "log" else _NORMAL.inv_cdf(rate)

    def position(self, rate: float) -> float:
        """0 at ``low``, 1 at ``high``."""
        lo, hi = self._value(self.low), self._value(self.high)
        return (self._value(rate) - lo) / (hi - lo)


@dataclass(frozen=True)
class Curve:
    name: str
    points: Sequence[tuple[float, float]]
    """(x rate, y rate) at each threshold, in threshold order."""


@dataclass(frozen=True)
class Mark:
    """An operating point: where one threshold lies on each curve."""

    name: str
    points: Sequence[tuple[float, float]]
    """(x rate, y rate) on each curve, in the order of the plot's curves."""


@dataclass(frozen=True)
class DetPlot:
    title: str
    x_label: str
    y_label: str
    x: Scale
    y: Scale
    curves: Sequence[Curve]
    marks: Sequence[Mark] = field(default_factory=tuple)


@dataclass(frozen=True)
class Label:
    """A text as drawn: ``org`` is OpenCV's bottom-left of the text."""

    text: str
    org: tuple[int, int]
    scale: float
    colour: Colour = BLACK

    @property
    def box(self) -> Box:
        (w, h), baseline = cv2.getTextSize(self.text, FONT, self.scale, 1)
        x, y = self.org
        return x, y - h, x + w, y + baseline


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass(frozen=True)
class Frame:
    """Where the plot area is in the image, and how rates map into it."""

    left: int
    top: int
    right: int
    bottom: int
    plot: DetPlot

    def point(self, x_rate: float, y_rate: float) -> tuple[int, int]:
        x = self.left + self.plot.x.position(x_rate) * (self.right - self.left)
        y = self.bottom - self.plot.y.position(y_rate) * (self.bottom - self.top)
        return round(x), round(y)


def _text_width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def _tick_text(rate: float) -> str:
    """A rate as a percentage: ``0.5``, ``10``, ``1e-4``."""
    return f"{100 * rate:g}".replace("e-0", "e-")


def frame_of(plot: DetPlot, width: int, height: int) -> Frame:
    left = 14 + max((_text_width(_tick_text(t), TICK_FONT) for t in plot.y.ticks), default=20)
    return Frame(left, 52, width - 20, height - 48, plot)


def _legend_rows(plot: DetPlot) -> list[tuple[str, Colour, str | None]]:
    """(text, colour, shape) per legend row: the curves (a line in their colour), then the marks (a shape)."""
    rows: list[tuple[str, Colour, str | None]] = []
    if len(plot.curves) > 1 or not plot.marks:
        rows += [(c.name, COLOURS[i % len(COLOURS)], None) for i, c in enumerate(plot.curves)]
    rows += [(m.name, BLACK, SHAPES[i % len(SHAPES)]) for i, m in enumerate(plot.marks)]
    return rows


LEGEND_ROW = 18
LEGEND_INDENT = 26


@dataclass(frozen=True)
class Layout:
    frame: Frame
    texts: list[Label]
    """Title, axis names and tick labels."""
    legend: list[Label]
    """One per :func:`_legend_rows` row, in the top right corner of the plot area."""

    @property
    def labels(self) -> list[Label]:
        return [*self.texts, *self.legend]


def layout(plot: DetPlot, width: int, height: int) -> Layout:
    """Every text of the plot with its place: title, axis names, tick labels, legend. None overlaps another."""
    frame = frame_of(plot, width, height)
    texts = [
        Label(plot.title, (frame.left, 20), TEXT_FONT),
        Label(plot.y_label, (6, frame.top - 10), TEXT_FONT),
    ]
    x_name_width = _text_width(plot.x_label, TEXT_FONT)
    texts.append(Label(plot.x_label, ((frame.left + frame.right - x_name_width) // 2, height - 10), TEXT_FONT))
    # Tick labels: each one only where it does not run into the previous one (probit ticks crowd at the ends).
    for axis in ("x", "y"):
        placed: list[Box] = []
        for tick in plot.x.ticks if axis == "x" else plot.y.ticks:
            text = _tick_text(tick)
            if axis == "x":
                x, _ = frame.point(tick, plot.y.low)
                label = Label(text, (x - _text_width(text, TICK_FONT) // 2, frame.bottom + 16), TICK_FONT)
            else:
                _, y = frame.point(plot.x.low, tick)
                label = Label(text, (frame.left - 6 - _text_width(text, TICK_FONT), y + 4), TICK_FONT)
            if not any(overlaps(label.box, other) for other in placed):
                placed.append(label.box)
                texts.append(label)
    rows = _legend_rows(plot)
    widest = max((_text_width(text, TICK_FONT) for text, _, _ in rows), default=0)
    x0 = frame.right - 10 - widest
    legend = [
        Label(text, (x0, frame.top + 18 + LEGEND_ROW * row), TICK_FONT, colour)
        for row, (text, colour, _) in enumerate(rows)
    ]
    return Layout(frame, texts, legend)


def _shape(canvas: Image, shape: str, centre: tuple[int, int], colour: Colour, size: int = 5) -> None:
    x, y = centre
    if shape == "circle":
        cv2.circle(canvas, centre, size, colour, -1)
        cv2.circle(canvas, centre, size, BLACK, 1, cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(canvas, (x - size, y - size), (x + size, y + size), colour, -1)
        cv2.rectangle(canvas, (x - size, y - size), (x + size, y + size), BLACK, 1)
    elif shape == "cross":
        cv2.line(canvas, (x - size, y - size), (x + size, y + size), colour, 2)
        cv2.line(canvas, (x - size, y + size), (x + size, y - size), colour, 2)
    else:
        corners = (
            [(x, y - size - 1), (x + size + 1, y + size), (x - size - 1, y + size)]
            if shape == "triangle"
            else [(x, y - size - 1), (x + size + 1, y), (x, y + size + 1), (x - size - 1, y)]
        )
        polygon = np.array(corners, np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [polygon], colour)
        cv2.polylines(canvas, [polygon], True, BLACK, 1)


def render(plot: DetPlot, width: int = 640, height: int = 560) -> Image:
    """The plot as a BGR image (write it with ``cv2.imwrite``)."""
    canvas = np.full((height, width, 3), 255, np.uint8)
    frame = frame_of(plot, width, height)
    for tick in plot.x.ticks:
        x, _ = frame.point(tick, plot.y.low)
        cv2.line(canvas, (x, frame.top), (x, frame.bottom), (225, 225, 225), 1)
    for tick in plot.y.ticks:
        _, y = frame.point(plot.x.low, tick)
        cv2.line(canvas, (frame.left, y), (frame.right, y), (225, 225, 225), 1)
    cv2.rectangle(canvas, (frame.left, frame.top), (frame.right, frame.bottom), BLACK, 1)
    for i, curve in enumerate(plot.curves):
        pixels = np.array([frame.point(*rates) for rates in curve.points], np.int32)
        if len(pixels):
            keep = np.concatenate([[True], np.any(np.diff(pixels, axis=0) != 0, axis=1)])
            cv2.polylines(canvas, [pixels[keep].reshape(-1, 1, 2)], False, COLOURS[i % len(COLOURS)], 2)
    for m, mark in enumerate(plot.marks):
        for i, rates in enumerate(mark.points):
            _shape(canvas, SHAPES[m % len(SHAPES)], frame.point(*rates), COLOURS[i % len(COLOURS)])
    placed = layout(plot, width, height)
    if placed.legend:
        x0 = min(label.box[0] for label in placed.legend) - LEGEND_INDENT - 4
        y0, y1 = min(label.box[1] for label in placed.legend) - 5, max(label.box[3] for label in placed.legend) + 5
        cv2.rectangle(canvas, (x0, y0), (frame.right - 4, y1), (255, 255, 255), -1)
        cv2.rectangle(canvas, (x0, y0), (frame.right - 4, y1), (180, 180, 180), 1)
        for (_, colour, shape), label in zip(_legend_rows(plot), placed.legend, strict=True):
            cx, cy = x0 + 4 + LEGEND_INDENT // 2, (label.box[1] + label.box[3]) // 2
            if shape is None:
                cv2.line(canvas, (cx - 9, cy), (cx + 9, cy), colour, 2)
            else:
                _shape(canvas, shape, (cx, cy), (255, 255, 255))
    for label in placed.labels:
        cv2.putText(canvas, label.text, label.org, FONT, label.scale, label.colour, 1, cv2.LINE_AA)
    return canvas
