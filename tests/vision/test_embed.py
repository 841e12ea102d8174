"""Embedding: unit float32 vectors, batching that changes nothing, per-image prewhitening."""

from __future__ import annotations

import numpy as np
import pytest

from edgeface.vision.align import CropSpec, align
from edgeface.vision.embed import preprocess
from edgeface.vision.images import load_image
from edgeface.vision.pick import primary_face
from edgeface.vision.recognize import Recognizer
from tests.support.data import FACES


def test_embeddings_are_unit_float32_vectors_and_batching_changes_nothing(recognizer: Recognizer) -> None:
    image = load_image(FACES / "joe_biden" / "1.jpg")
    face = primary_face(recognizer.detect(image), image.shape)
    assert face is not None
    other = load_image(FACES / "norah_jones" / "1.jpg")
    face2 = primary_face(recognizer.detect(other), other.shape)
    assert face2 is not None
    spec = CropSpec.for_profile(recognizer.embedder.profile)
    crops = [align(image, face, spec), align(other, face2, spec)]
    together = recognizer.embedder.embed(crops)
    alone = recognizer.embedder.embed(crops[:1])
    assert together.dtype == np.float32 and together.shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together[0], alone[0], atol=1e-4)


def test_prewhitening_standardises_each_image_on_its_own(facenet_recognizer: Recognizer) -> None:
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 255, (160, 160, 3), dtype=np.uint8), np.full((160, 160, 3), 7, np.uint8)]
    profile = facenet_recognizer.embedder.profile.model_copy(update={"normalize": "prewhiten"})
    tensor = preprocess(crops, profile)
    assert tensor.shape == (2, 3, 160, 160)
    assert abs(float(tensor[0].mean())) < 1e-4 and float(tensor[0].std()) == pytest.approx(1.0, abs=1e-3)
    assert np.all(tensor[1] == 0.0), "a flat image has zero std: the floor keeps it finite"
