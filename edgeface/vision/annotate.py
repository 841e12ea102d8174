"""Drawing what the recogniser saw: every face boxed, with a label that never overprints another.

Pure functions on numpy arrays. ``identify --annotate``, ``inspect`` and the live page draw the frame
pipeline's outcomes with :func:`annotate` (each as :meth:`Seen.of` shows it); the live page does so on
the very image the faces were found in, before that image is encoded (so a box and the frame under it
cannot disagree):

- a recognised face green, labelled with the name and similarity; an unknown one red;
- a matched face that liveness called a presentation attack orange (``name: spoof``);
- a face that was not used as evidence grey, labelled with why (:data:`REASONS`).

Labels go below their box, else above it, else inside its top, and failing all three slide down (then
up) to the nearest free place; one that fits nowhere is left out rather than drawn over another.
Coloured faces are labelled first, so a crowd of grey ones cannot push a name out of the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

import cv2
import numpy as np

from edgeface.values import Face, Image, Match

if TYPE_CHECKING:
    from edgeface.vision.pipeline import FaceOutcome

Rect: TypeAlias = tuple[int, int, int, int]
"""x, y, width, height in whole pixels."""
Style: TypeAlias = Literal["known", "unknown", "spoof", "unused"]

REASONS = {"small": "too small", "turned": "turned away", "blurred": "blurred", "liveness": "liveness check"}
"""Why a face was not used, as its label says it: the quality gates (edgeface.vision.quality) and a
liveness check still gathering frames."""

COLOURS: dict[Style, tuple[int, int, int]] = {
    "known": (60, 200, 60),
    "unknown": (40, 40, 230),
    "spoof": (0, 140, 255),
    "unused": (150, 150, 150),
}
"""Box and label colours (BGR) of each style."""
_TEXT: dict[Style, tuple[int, int, int]] = {
    "known": (0, 0, 0),
    "unknown": (255, 255, 255),
    "spoof": (0, 0, 0),
    "unused": (0, 0, 0),
}
RIM = (20, 20, 20)
"""The dark edge drawn under every box line."""
_MARKS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PAD = 2


@dataclass(frozen=True)
class Seen:
    """One detected face and what became of it in its frame."""

    face: Face
    match: Match | None = None
    """Its match (this frame's, or the identity its track remembers); None when it was not embedded."""
    reason: str | None = None
    """Why it was not used as evidence, a key of :data:`REASONS`; None when it was used."""

    @property
    def style(self) -> Style:
        if self.reason is not None or self.match is None:
            return "unused"
        if self.match.live is False:
            return "spoof"
        return "known" if self.match.person else "unknown"

    @property
    def label(self) -> str:
        why = REASONS.get(self.reason or "", self.reason or "not checked")
        match = self.match
        if match is None:
            return why
        who = match.person or match.candidate
        if self.reason is not None:
            return f"{who}: {why}" if who else why
        if match.live is False:
            return f"{who}: spoof"
        if match.candidate is None:  # nobody enrolled: there is no similarity to show
            return "unknown"
        return f"{match.person or 'unknown'} {match.similarity:.2f}"

    @classmethod
    def of(cls, outcome: FaceOutcome) -> Seen:
        """How a frame pipeline's outcome is drawn: a remembered identity and a spoof by their match (a spoof
        is evidence, of an attack), any other reason as the grey box's label."""
        plain = outcome.reason in (None, "remembered", "spoof")
        return cls(outcome.face, outcome.match, None if plain else outcome.reason)


def annotate(image: Image, outcomes: Sequence[FaceOutcome]) -> Image:
    """A copy of the image with each of the frame pipeline's faces boxed and labelled as :meth:`Seen.of` shows it."""
    return draw(image, [Seen.of(outcome) for outcome in outcomes])


def draw(
    image: Image, seen: Sequence[Seen], *, colour: tuple[int, int, int] | None = None, thickness: int | None = None
) -> Image:
    """A copy of the image with every face boxed in its style and labelled without overlaps.

    ``colour`` (BGR) and ``thickness`` (pixels) draw every box and label alike instead, as the library's
    ``FaceNet`` is asked to; its text is black or white, whichever reads on that colour.
    """
    out = image.copy()
    height, width = image.shape[:2]
    thickness = thickness or max(1, round(max(height, width) / 400))
    colours = [colour or COLOURS[s.style] for s in seen]
    texts_colours = [_TEXT[s.style] if colour is None else _readable_on(colour) for s in seen]
    scale = max(11, round(height / 45)) / 22  # text about 1/45 of the picture high, at least 11 px
    weight = max(1, round(scale * 1.5))
    # Coloured faces last on the picture (on top of grey boxes) and first to choose their label's place.
    order = sorted(range(len(seen)), key=lambda i: seen[i].style != "unused")
    for i in order:
        x, y, w, h = _rect(seen[i].face)
        # A dark rim under each line, so that a grey box shows on a grey wall as well as on a dark coat.
        cv2.rectangle(out, (x, y), (x + w, y + h), RIM, thickness + 2)
        cv2.rectangle(out, (x, y), (x + w, y + h), colours[i], thickness)
        if seen[i].style != "unused":
            for (px, py), mark in zip(seen[i].face.landmarks, _MARKS, strict=True):
                cv2.circle(out, (round(float(px)), round(float(py))), thickness + 1, mark, -1)
    order.reverse()
    texts = [seen[i].label for i in order]
    sizes = [cv2.getTextSize(text, _FONT, scale, weight) for text in texts]
    boxes = [_rect(seen[i].face) for i in order]
    spots = place_labels(boxes, [(tw + 2 * _PAD, th + base + 2 * _PAD) for (tw, th), base in sizes], (width, height))
    labels = [
        (i, text, th, spot, box)
        for i, text, ((_, th), _), spot, box in zip(order, texts, sizes, spots, boxes, strict=True)
        if spot is not None
    ]
    for i, _, _, (lx, ly, lw, lh), (bx, by, bw, bh) in labels:
        if not _touches((lx, ly, lw, lh), (bx, by, bw, bh)):  # slid away by other labels: a line says whose it is
            start = (bx + bw // 2, by + bh if ly > by else by)
            end = (min(max(lx, start[0]), lx + lw - 1), ly if ly > by else ly + lh - 1)
            cv2.line(out, start, end, colours[i], 1, cv2.LINE_AA)
    for i, text, th, (lx, ly, lw, lh), _ in labels:  # after every line, so that no line crosses a label
        cv2.rectangle(out, (lx, ly), (lx + lw - 1, ly + lh - 1), colours[i], -1)
        cv2.putText(out, text, (lx + _PAD, ly + _PAD + th), _FONT, scale, texts_colours[i], weight, cv2.LINE_AA)
    return np.asarray(out, dtype=np.uint8)


def _readable_on(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black text on a light colour, white on a dark one (BGR, by perceived luminance)."""
    blue, green, red = colour
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255)


def place_labels(
    boxes: Sequence[Rect], sizes: Sequence[tuple[int, int]], image_size: tuple[int, int]
) -> list[Rect | None]:
    """Where each box's label of ``sizes[i]`` (width, height) goes, in priority order; None where none fits.

    No two labels overlap and each lies inside the image. A place that covers no other face is preferred.
    """
    width, height = image_size
    placed: list[Rect] = []
    spots: list[Rect | None] = []
    for i, (box, (lw, lh)) in enumerate(zip(boxes, sizes, strict=True)):
        others = [b for j, b in enumerate(boxes) if j != i]
        spot = None
        if lw <= width and lh <= height:
            candidates = _candidates(box, lw, lh, width, height)
            spot = next((c for c in candidates if _free(c, placed) and _free(c, others)), None)
            spot = spot or next((c for c in candidates if _free(c, placed)), None)
        if spot is not None:
            placed.append(spot)
        spots.append(spot)
    return spots


def _candidates(box: Rect, lw: int, lh: int, width: int, height: int) -> list[Rect]:
    """Below, above, then inside the box (each aligned to its left, then its right edge); then further away."""
    x, y, w, h = box
    below, above, inside = y + h + 1, y - lh - 1, y + 1
    near = [(left, top) for top in (below, above, inside) for left in (x, x + w - lw)]
    far = [(x, top) for top in [*range(below + lh, height - lh + 1, lh), *range(above - lh, -1, -lh), height - lh, 0]]
    return [(min(max(0, left), width - lw), min(max(0, top), height - lh), lw, lh) for left, top in near + far]


def _touches(label: Rect, box: Rect) -> bool:
    """Whether a label sits against (or on) its box, so that no leader line is needed to tell whose it is."""
    return not _free(label, [(box[0] - 2, box[1] - 2, box[2] + 4, box[3] + 4)])


def _free(rect: Rect, others: Sequence[Rect]) -> bool:
    x, y, w, h = rect
    return all(x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y for ox, oy, ow, oh in others)


def _rect(face: Face) -> Rect:
    x, y, w, h = (round(v) for v in face.box)
    return x, y, w, h
