"""``edgeface.FaceNet``: the founding document's class, on real photos of ../shared/faces.

Each person's first photo (by name) is their anchor; their other photos are the probes, and the 38
photos of ``unknown/`` are strangers nobody anchors.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import edgeface
from edgeface.errors import ConfigError, ModelError
from edgeface.vision.images import load_image
from tests.support.data import labelled_faces
from tests.support.models import REPO_MODELS

PEOPLE, STRANGERS = labelled_faces()
PROBES = [(name, photo) for name, photos in PEOPLE.items() for photo in photos[1:]]


@pytest.fixture(scope="module")
def anchors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<name>/<first photo>``: the anchors folder layout of the founding document."""
    folder = tmp_path_factory.mktemp("faces")
    for name, photos in PEOPLE.items():
        (folder / name).mkdir()
        (folder / name / photos[0].name).symlink_to(photos[0])
    return folder


@pytest.fixture(scope="module")
def fn(anchors: Path) -> Iterator[edgeface.FaceNet]:
    with edgeface.FaceNet(anchors=anchors, color=(255, 0, 255), thickness=3) as facenet:
        yield facenet


def named(fn: edgeface.FaceNet, photo: Path) -> list[str | None]:
    return [face.name for face in fn.recognise(load_image(photo))]


def test_every_anchored_person_is_known_by_the_folder_name(fn: edgeface.FaceNet) -> None:
    assert fn.names == tuple(sorted(PEOPLE))
    assert 0.4 < fn.threshold < 0.6  # held for 37 templates, not the old fixed 0.40


def test_anchored_people_are_named_right_on_their_other_photos(fn: edgeface.FaceNet) -> None:
    right = wrong = 0
    for name, photo in PROBES:
        names = named(fn, photo)
        right += name in names
        wrong += sum(1 for n in names if n is not None and n != name)
    assert wrong == 0
    assert right >= 0.85 * len(PROBES), f"{right} of {len(PROBES)}"


def test_strangers_are_never_named(fn: edgeface.FaceNet) -> None:
    assert len(STRANGERS) == 38
    assert [n for photo in STRANGERS for n in named(fn, photo) if n is not None] == []


def test_a_result_carries_the_box_and_the_similarity_of_the_face(fn: edgeface.FaceNet) -> None:
    name, photo = PROBES[0]
    image = load_image(photo)
    (face,) = [f for f in fn.recognise(image) if f.name == name]
    x, y, w, h = face.box
    assert all(isinstance(v, int) for v in face.box)
    assert 0 <= x < x + w <= image.shape[1] and 0 <= y < y + h <= image.shape[0]
    assert face.similarity is not None and fn.threshold <= face.similarity <= 1.0
    assert face.reason is None and face.embedding is not None and face.embedding.shape == (128,)


def test_calling_it_draws_the_faces_in_the_colour_and_thickness_given_on_a_copy(fn: edgeface.FaceNet) -> None:
    image = load_image(PROBES[0][1])
    before = image.copy()
    drawn = fn(image)
    assert np.array_equal(image, before), "the caller's frame is left as it was"
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    (face,) = fn.recognise(image)
    x, y, _, h = face.box
    edge = drawn[y + h // 2, max(0, x - 1) : x + 3]  # across the box's left side, at mid-height
    magenta = np.all(edge == (255, 0, 255), axis=-1)
    assert 2 <= magenta.sum() <= 4  # the given thickness (3), not the live page's colours


def test_encode_gives_anchors_that_recognise_the_same_people(fn: edgeface.FaceNet) -> None:
    people = list(PEOPLE)[:5]
    vectors = {name: fn.encode(load_image(PEOPLE[name][0])) for name in people}
    assert all(v.shape == (1, 128) and v.dtype == np.float32 for v in vectors.values())
    assert np.allclose([np.linalg.norm(v) for v in vectors.values()], 1.0, atol=1e-5)
    with edgeface.FaceNet(anchors=vectors) as from_vectors:
        assert from_vectors.names == tuple(sorted(people))
        for name in people:
            for photo in PEOPLE[name][1:3]:
                assert set(named(from_vectors, photo)) <= {name, None}


def test_a_fixed_threshold_is_taken_as_given(anchors: Path) -> None:
    with edgeface.FaceNet(anchors=anchors, threshold=0.99) as strict:
        assert strict.threshold == 0.99
        assert all(n is None for _, photo in PROBES[:10] for n in named(strict, photo))


def test_a_renamed_copy_of_a_known_embedder_is_recognised_by_its_content(tmp_path: Path, anchors: Path) -> None:
    # The founding document called its model faceNet.onnx: a file's name does not say what it is.
    renamed = tmp_path / "faceNet.onnx"
    shutil.copy(REPO_MODELS / "mobilefacenet_foamliu.onnx", renamed)
    with edgeface.FaceNet(onnx_model_path=renamed, anchors=anchors, force_cpu=True) as fp32:
        name, photo = PROBES[0]
        assert name in named(fp32, photo)


def test_an_unknown_model_file_is_one_error_naming_it(tmp_path: Path) -> None:
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"mine\.onnx: not an embedder edgeface knows"):
        edgeface.FaceNet(onnx_model_path=model, anchors={})


def test_a_missing_anchors_folder_is_one_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder of anchor photos"):
        edgeface.FaceNet(anchors=tmp_path / "faces")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [({"threshold": 1.5}, "threshold=1.5: a cosine similarity, from -1 to 1"), ({"thickness": 0}, "thickness=0")],
)
def test_an_argument_out_of_range_is_one_error_naming_it(arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        edgeface.FaceNet(anchors={}, **arguments)


def test_an_anchor_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"anchors\['bob'\]: 3 numbers; expected .* of 128"):
        edgeface.FaceNet(anchors={"bob": [1.0, 2.0, 3.0]})


def test_a_photo_without_a_face_anchors_nobody(tmp_path: Path) -> None:
    (tmp_path / "blank.jpg").write_bytes(cv2.imencode(".jpg", np.zeros((200, 200, 3), np.uint8))[1].tobytes())
    with edgeface.FaceNet(anchors=tmp_path) as empty:
        assert empty.names == ()
        assert named(empty, PROBES[0][1]) == [None]
