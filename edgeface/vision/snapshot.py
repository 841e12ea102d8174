"""A snapshot of a decision: the face's box, with a margin, as a small JPEG for a person to look at.

Not the aligned crop the embedder sees (112 px, tilted to the eyes): a Home Assistant dashboard
shows who stood at the door, hair and shoulders included, so the box is widened by
:data:`MARGIN` and scaled down to at most :data:`MAX_SIDE` pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgeface.values import Face, Image
from edgeface.vision.images import encode_jpeg

MARGIN = 0.3
"""The box is widened by this fraction of its size on each side (clipped to the frame)."""
MAX_SIDE = 320
"""Longer side of the snapshot, in pixels: a dashboard tile, and tens of KiB over MQTT."""
QUALITY = 85


def face_snapshot(image: Image, face: Face) -> bytes:
    """The JPEG snapshot of ``face`` in ``image``."""
    x, y, w, h = face.box
    height, width = image.shape[:2]
    x0, y0 = max(0, int(x - MARGIN * w)), max(0, int(y - MARGIN * h))
    x1, y1 = min(width, int(x + w + MARGIN * w) + 1), min(height, int(y + h + MARGIN * h) + 1)
    crop: Image = image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else image
    scale = MAX_SIDE / max(crop.shape[:2])
    if scale < 1.0:
        crop = np.asarray(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
    return encode_jpeg(crop, QUALITY)
