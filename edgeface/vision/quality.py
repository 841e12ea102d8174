"""Quality gates on a detected face: size, sharpness and frontal pose.

Pure functions: a face that fails them is not worth embedding (it costs time
and yields an unreliable vector), and enrolment from a camera keeps only the
best frames by the same measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import cv2
import numpy as np

from edgeface.config import QualityConfig
from edgeface.values import Face, Image


@dataclass(frozen=True)
class QualityGates:
    min_face: float = 24.0
    """Shorter box side in pixels."""
    min_sharpness: float = 0.0
    """Variance of the Laplacian of the face region; 0 disables the gate."""
    max_yaw: float = 1.0
    """Nose offset from the eye midline relative to the eye distance; 1 disables the gate."""

    @classmethod
    def from_config(cls, section: QualityConfig) -> QualityGates:
        return cls(min_face=section.min_face, min_sharpness=section.min_sharpness, max_yaw=section.max_yaw)

    def large_enough(self, face: Face) -> bool:
        """The size gate alone: the frame loop tracks every face that passes it, then applies the others."""
        return face.size >= self.min_face


def sharpness(image: Image, face: Face) -> float:
    """Variance of the Laplacian inside the face box (higher is sharper)."""
    x, y, w, h = (round(v) for v in face.box)
    x0, y0 = max(0, x), max(0, y)
    region = image[y0 : max(y0 + 1, y + h), x0 : max(x0 + 1, x + w)]
    if region.size == 0:
        return 0.0
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def yaw(face: Face) -> float:
    """How far the nose sits from the eyes' midline, in eye distances (0 = frontal, ~0.5 = profile)."""
    eyes = face.landmarks[:2]
    eye_distance = float(np.linalg.norm(eyes[1] - eyes[0]))
    if eye_distance < 1e-6:
        return 1.0
    midpoint = eyes.mean(axis=0)
    axis = (eyes[1] - eyes[0]) / eye_distance
    return abs(float(np.dot(face.landmarks[2] - midpoint, axis))) / eye_distance


Rejection: TypeAlias = Literal["small", "turned", "blurred"]
"""The gate a face failed, in the words the live page shows."""


def rejection(image: Image, face: Face, gates: QualityGates) -> Rejection | None:
    """The first gate the face fails (the cheap ones first), or None when it passes them all."""
    if not gates.large_enough(face):
        return "small"
    if gates.max_yaw < 1.0 and yaw(face) > gates.max_yaw:
        return "turned"
    if gates.min_sharpness > 0.0 and sharpness(image, face) < gates.min_sharpness:
        return "blurred"
    return None


def passes(image: Image, face: Face, gates: QualityGates) -> bool:
    return rejection(image, face, gates) is None


def face_quality(image: Image, face: Face) -> float:
    """0–1, higher is better: sharpness (it saturates: sharp is sharp enough), size and frontality keep counting.

    What enrolment ranks camera shots by and keeps with every template (``people show``).
    """
    return min(sharpness(image, face), 300.0) / 300.0 * min(face.size, 300.0) / 300.0 * (1.0 - yaw(face))
