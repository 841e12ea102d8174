"""Recognition on real photos: same person near, different people far, strangers rejected."""

from __future__ import annotations

import numpy as np
import pytest

from edgeface.vision.embed import preprocess
from edgeface.vision.images import load_image
from edgeface.vision.match import Gallery, match
from edgeface.vision.pick import primary_face
from edgeface.vision.recognize import Recognizer
from tests.support.data import FACES


def embed_photo(rec: Recognizer, rel: str) -> np.ndarray:
    image = load_image(FACES / rel)
    face = primary_face(rec.detect(image), image.shape)
    assert face is not None, rel
    return rec.embed(image, [face])[0]


@pytest.mark.parametrize(
    ("enrolled", "probe"),
    [("barack_obama/1.jpg", "barack_obama/3.jpg"), ("nicole_kidman/1.jpg", "nicole_kidman/4.jpg")],
)
def test_photos_of_the_same_person_match(recognizer: Recognizer, enrolled: str, probe: str) -> None:
    similarity = float(embed_photo(recognizer, enrolled) @ embed_photo(recognizer, probe))
    assert similarity > recognizer.threshold


def test_different_people_and_strangers_are_rejected(recognizer: Recognizer) -> None:
    people = ["barack_obama/1.jpg", "joe_biden/1.jpg", "nicole_kidman/1.jpg", "norah_jones/1.jpg"]
    gallery = Gallery.build({p.split("/")[0]: embed_photo(recognizer, p)[None] for p in people}, 128)
    strangers = np.stack([embed_photo(recognizer, f"unknown/{i}.jpg") for i in (1, 2, 3, 4, 5)])
    assert all(m.person is None for m in match(strangers, gallery, recognizer.threshold))
    again = embed_photo(recognizer, "joe_biden/2.jpg")
    assert match(again[None], gallery, recognizer.threshold)[0].person == "joe_biden"


def test_facenet_takes_fixed_standardisation_and_its_mean_embedding_away(facenet_recognizer: Recognizer) -> None:
    crop = np.full((1, 160, 160, 3), 255, np.uint8)
    tensor = preprocess(list(crop), facenet_recognizer.embedder.profile)
    assert np.allclose(tensor, (255 - 127.5) / 128)
    vectors = np.stack([embed_photo(facenet_recognizer, f"unknown/{i}.jpg") for i in range(1, 9)])
    # Centred embeddings of different people point in unrelated directions, not towards a common "face".
    assert float(np.linalg.norm(vectors.mean(axis=0))) < 0.5


def test_the_seeds_facenet_separates_people_too(facenet_recognizer: Recognizer) -> None:
    rec = facenet_recognizer
    same = float(embed_photo(rec, "barack_obama/1.jpg") @ embed_photo(rec, "barack_obama/2.jpg"))
    other = float(embed_photo(rec, "barack_obama/1.jpg") @ embed_photo(rec, "pierce_brosnan/1.jpg"))
    assert same > rec.threshold > other
