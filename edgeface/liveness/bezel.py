"""The edge of a screen around a face: long straight lines in the whole frame, measured for the screen cue.

A laptop, monitor or TV held up to (or filmed by) the camera puts a long straight edge into the frame
around the face: the bezel, or the border of the picture, at any tilt, usually with the brighter side (the
emitting screen) towards the face. A live face at a door has walls and door frames behind it too, so these
are measurements for the cue's logistic regression to weigh (:mod:`edgeface.liveness.screen`), never a
verdict on their own.

Lines along **padding** are not counted: a region of exact black beside a line (the border a rotated,
aligned photo is pasted on) is no scene, and a camera's sensor noise never makes one. Without this,
every aligned news photo would look like a picture on a screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edgeface.values import Box, Image

BEZEL_FEATURES = ("bezel_length", "bezel_contrast", "bezel_bright_edge", "bezel_face_widths")
"""The longest line's length against the frame's long side, the luminance across it (towards the face
minus away from it, /64), the two combined (a bright screen's edge), and log(1 + the longest line in face
widths)."""
BEZEL_SIDE = 320
"""The frame is brought down to this long side first: the same scale whatever the camera."""
MIN_LENGTH = 0.15
"""The shortest line counted, as a share of the long side."""
NEAR, FAR = 0.8, 4.0
"""Only lines this many face widths from the face's centre count: not the face's own outline, nor the far
side of the room."""
PADDING = 3.0
"""Gray level at or below which the far side of a line is padding, not a scene."""
_SAMPLES = np.linspace(0.1, 0.9, 20)
_STEP = 4.0


@dataclass(frozen=True)
class FrameLines:
    """The long straight lines of one frame, found once for all of its faces."""

    small: Image
    """The frame in gray, brought down to :data:`BEZEL_SIDE`."""
    scale: float
    """``small`` over the frame."""
    segments: npt.NDArray[np.float64]
    """N × 4: x1, y1, x2, y2 in ``small``."""


def frame_lines(image: Image) -> FrameLines:
    """Canny edges and probabilistic Hough segments of at least :data:`MIN_LENGTH` in a BGR frame."""
    height, width = image.shape[:2]
    k = BEZEL_SIDE / max(height, width)
    # Brought down in colour, then to gray: the order the cue was fitted with (Canny's lines move with it).
    small: Image = np.asarray(
        cv2.cvtColor(cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY), np.uint8
    )
    edges = cv2.Canny(small, 50, 150)
    found = cv2.HoughLinesP(edges, 1, np.pi / 180, 40, minLineLength=int(MIN_LENGTH * BEZEL_SIDE), maxLineGap=4)
    segments = np.zeros((0, 4)) if found is None else found.reshape(-1, 4).astype(np.float64)
    return FrameLines(small, k, segments)


def bezel_features(lines: FrameLines, box: Box) -> list[float]:
    """:data:`BEZEL_FEATURES` for a face ``box`` (x, y, w, h, in the frame's pixels)."""
    x, y, bw, bh = (v * lines.scale for v in box)
    cx, cy = x + bw / 2.0, y + bh / 2.0
    x1, y1, x2, y2 = lines.segments.T
    length = np.hypot(x2 - x1, y2 - y1)
    nx, ny = (y2 - y1) / length, -(x2 - x1) / length  # unit normal
    towards = (cx - x1) * nx + (cy - y1) * ny  # signed distance of the face's centre
    keep = (np.abs(towards) >= NEAR * bw) & (np.abs(towards) <= FAR * bw)
    if not keep.any():
        return [0.0, 0.0, 0.0, 0.0]
    side = np.sign(towards)
    px = x1[:, None] + _SAMPLES * (x2 - x1)[:, None]
    py = y1[:, None] + _SAMPLES * (y2 - y1)[:, None]
    near = _sample(lines.small, px, py, side * nx * _STEP, side * ny * _STEP)
    far = _sample(lines.small, px, py, -side * nx * _STEP, -side * ny * _STEP)
    keep &= np.median(far, axis=1) > PADDING
    if not keep.any():
        return [0.0, 0.0, 0.0, 0.0]
    index = np.flatnonzero(keep)
    best = index[int(np.argmax(length[index]))]
    contrast = float(near[best].mean() - far[best].mean()) / 64.0
    longest = float(length[best]) / BEZEL_SIDE
    return [longest, contrast, longest * max(contrast, 0.0), float(np.log1p(length[index].max() / bw))]


def _sample(
    image: Image,
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    dx: npt.NDArray[np.float64],
    dy: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Gray levels at the points (px, py) moved by (dx, dy) per line, clamped to the image."""
    height, width = image.shape[:2]
    xs = np.clip((px + dx[:, None]).astype(np.int64), 0, width - 1)
    ys = np.clip((py + dy[:, None]).astype(np.int64), 0, height - 1)
    return np.asarray(image[ys, xs], np.float64)
