"""A synthetic head for the liveness tests: its landmarks seen from any angle, and a model with a fixed score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeface.values import Face, Image

FPS = 15.0
"""The rate the daemon gets through frames on a small board; clips are sampled down to it."""

HEAD = np.array([[-0.5, -0.4, 0.0], [0.5, -0.4, 0.0], [0.0, 0.1, -0.6], [-0.4, 0.6, 0.0], [0.4, 0.6, 0.0]])
"""Eyes, nose tip, mouth corners in inter-ocular units; the nose stands 0.6 out of the eye–mouth plane."""


def view(points: np.ndarray, yaw: float, pitch: float, distance: float = 8.0, focal: float = 600.0) -> np.ndarray:
    """``points`` turned by ``yaw`` and ``pitch`` and projected through a pinhole camera, in pixels."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    p = points @ rot.T + [0.0, 0.0, distance]
    return np.asarray(p[:, :2] / p[:, 2:3] * focal + 320.0)


def face_at(points: np.ndarray, size: float = 100.0) -> Face:
    """A detected face with these landmarks, its box just above and left of them."""
    x, y = points.min(axis=0) - 10
    return Face((float(x), float(y), size, size), 0.9, points.astype(np.float32))


class FixedModel:
    """A liveness model that says the same of every face."""

    def __init__(self, score: float) -> None:
        self.value, self.closed, self.calls = score, False, 0

    def score(self, image: Image, faces: Sequence[Face]) -> np.ndarray:
        self.calls += 1
        return np.full(len(faces), self.value, np.float32)

    def close(self) -> None:
        self.closed = True
