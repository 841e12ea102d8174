"""The bezel measurements: a screen's edge around the face counts, the black border of an aligned photo does not."""

from __future__ import annotations

import numpy as np

from edgeface.liveness.bezel import BEZEL_FEATURES, bezel_features, frame_lines
from edgeface.vision.detect import Detector
from tests.liveness.test_minifasnet import photo_face
from tests.support.data import SHARED


def test_a_pictures_edge_around_the_face_is_measured_and_black_padding_is_not(detector: Detector) -> None:
    photo, face = photo_face(detector, sorted((SHARED / "faces" / "barack_obama").iterdir())[0])
    h, w = photo.shape[:2]
    rng = np.random.default_rng(0)
    # The photo on a backlit screen (brighter than the room everywhere) in a dim room with a sensor's noise,
    # and the same picture pasted on exact black padding.
    screen = np.clip(photo.astype(np.float32) * 0.6 + 100.0, 0, 255).astype(np.uint8)
    room = np.clip(rng.normal(40, 6, (2 * h, 2 * w, 3)), 0, 255).astype(np.uint8)
    padded = np.zeros_like(room)
    for frame in (room, padded):
        frame[h // 2 : h // 2 + h, w // 2 : w // 2 + w] = screen
    x, y, bw, bh = face.box
    box = (x + w // 2, y + h // 2, bw, bh)
    on_screen, on_padding = bezel_features(frame_lines(room), box), bezel_features(frame_lines(padded), box)
    assert len(on_screen) == len(BEZEL_FEATURES)
    length, contrast = on_screen[0], on_screen[1]
    assert length >= 0.2 and contrast > 0.5 and on_screen[2] > 0  # the screen's edge, brighter towards the face
    assert on_padding[0] < length


def test_a_plain_frame_has_no_bezel() -> None:
    flat = np.full((480, 640, 3), 90, np.uint8)
    lines = frame_lines(flat)
    assert lines.segments.shape == (0, 4) and bezel_features(lines, (280.0, 200.0, 80.0, 100.0)) == [0.0] * 4
