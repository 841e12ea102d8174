"""Drawing what the recogniser saw: boxes, landmarks, names and similarities."""

from __future__ import annotations

import cv2
import numpy as np

from edgeface.values import Face, Image, Match

_KNOWN = (60, 200, 60)
_UNKNOWN = (40, 40, 230)
_MARKS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))


def annotate(image: Image, results: list[tuple[Face, Match]]) -> Image:
    """A copy of the image with each face boxed and labelled (green known, red unknown)."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for face, match in results:
        x, y, w, h = (round(v) for v in face.box)
        colour = _KNOWN if match.person else _UNKNOWN
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        for (px, py), mark in zip(face.landmarks, _MARKS, strict=True):
            cv2.circle(out, (round(float(px)), round(float(py))), thickness + 1, mark, -1)
        label = f"{match.person or 'unknown'} {match.similarity:.2f}"
        scale = 0.4 * thickness
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(0, y - th - base - 2)
        cv2.rectangle(out, (x, top), (x + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(out, label, (x + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness)
    return np.asarray(out, dtype=np.uint8)
