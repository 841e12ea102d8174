"""Alignment: the template warp and the box crop that feed the embedder."""

from __future__ import annotations

import numpy as np

from edgeface.values import Face
from edgeface.vision.align import CropSpec, align, crop_matrix, template_points
from edgeface.vision.images import load_image
from edgeface.vision.pick import primary_face
from edgeface.vision.recognize import Recognizer
from tests.support.data import FACES


def test_the_template_warp_puts_the_landmarks_on_the_template(recognizer: Recognizer) -> None:
    image = load_image(FACES / "nicole_kidman" / "1.jpg")
    face = primary_face(recognizer.detect(image), image.shape)
    assert face is not None
    spec = CropSpec("template", 112)
    m = crop_matrix(face, spec)
    moved = face.landmarks @ m[:, :2].T + m[:, 2]
    assert np.abs(moved - template_points(spec)).mean() < 4.0
    assert align(image, face, spec).shape == (112, 112, 3)


def test_the_box_crop_grows_the_face_box_by_its_margin_and_squashes_it_square() -> None:
    image = np.zeros((300, 300, 3), np.uint8)
    image[100:200, 120:180] = 255  # the "face": 60 wide, 100 tall
    face = Face((120, 100, 60, 100), 0.9, np.zeros((5, 2), np.float32))
    crop = align(image, face, CropSpec("box", 160, margin=0.125))
    assert crop.shape == (160, 160, 3)
    # Each side grows by 12.5 %, so the face fills 100/125 of the crop in both directions: 128 px.
    assert 124 <= len(np.flatnonzero(crop[:, 80, 0] > 128)) <= 132
    assert 124 <= len(np.flatnonzero(crop[80, :, 0] > 128)) <= 132
