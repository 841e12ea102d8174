"""Detection on real photos: one face with its landmarks, boxes in input pixels, YuNet decoding and NMS."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeface.values import Face
from edgeface.vision.detect import decode_yunet, non_max_suppression
from edgeface.vision.images import load_image
from edgeface.vision.pick import primary_face, prominent_faces
from edgeface.vision.recognize import Recognizer
from tests.support.data import FACES


def test_a_portrait_yields_one_face_with_landmarks_inside_its_box(recognizer: Recognizer) -> None:
    faces = recognizer.detect(load_image(FACES / "barack_obama" / "1.jpg"))
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert faces[0].score > 0.8
    assert w > 50 and h > 50
    assert np.all(faces[0].landmarks[:, 0] > x) and np.all(faces[0].landmarks[:, 0] < x + w)
    assert np.all(faces[0].landmarks[:, 1] > y) and np.all(faces[0].landmarks[:, 1] < y + h)
    right_eye, left_eye = faces[0].landmarks[:2]
    assert right_eye[0] < left_eye[0], "first landmark is the eye on the image's left"


@pytest.mark.parametrize("scale", [0.77, 1.0, 2.3])
def test_boxes_map_back_to_the_input_image_whatever_its_size(recognizer: Recognizer, scale: float) -> None:
    image = load_image(FACES / "andy_roddick" / "1.jpg")
    reference = primary_face(recognizer.detect(image), image.shape)
    resized = cv2.resize(image, None, fx=scale, fy=scale)  # odd sizes and beyond max_side
    face = primary_face(recognizer.detect(resized), resized.shape)
    assert reference is not None and face is not None
    # Resampling moves a detection by a few pixels; a wrong mapping would be off by the scale factor.
    tolerance = 0.1 * reference.size
    np.testing.assert_allclose(np.array(face.box) / scale, reference.box, atol=tolerance)
    np.testing.assert_allclose(face.landmarks / scale, reference.landmarks, atol=tolerance)


def test_a_picture_without_people_has_no_face(recognizer: Recognizer) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert recognizer.detect(noise) == []
    assert recognizer.detect(np.zeros((37, 53, 3), np.uint8)) == []


def test_decoding_places_a_confident_cell_at_its_grid_position() -> None:
    h, w = 64, 96
    outputs = {}
    for s in (8, 16, 32):
        n = (h // s) * (w // s)
        outputs[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        outputs[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        outputs[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        outputs[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    cols = w // 16
    cell = 2 * cols + 3  # row 2, column 3 at stride 16
    outputs["cls_16"][0, cell, 0] = 0.81
    outputs["obj_16"][0, cell, 0] = 1.0
    outputs["bbox_16"][0, cell] = [0.5, 0.5, np.log(2.0), np.log(3.0)]
    dets = decode_yunet(outputs, h, w, 0.5)
    assert len(dets) == 1
    assert dets.scores[0] == pytest.approx(0.9)
    np.testing.assert_allclose(dets.boxes[0], [(3.5 * 16) - 16, (2.5 * 16) - 24, 32, 48])
    np.testing.assert_allclose(dets.landmarks[0, 0], [3 * 16, 2 * 16])


def test_overlapping_boxes_merge_into_the_best_one() -> None:
    from edgeface.vision.detect import Detections

    boxes = np.array([[10, 10, 50, 50], [12, 11, 50, 50], [200, 200, 40, 40]], np.float32)
    scores = np.array([0.8, 0.95, 0.9], np.float32)
    kept = non_max_suppression(Detections(boxes, scores, np.zeros((3, 5, 2), np.float32)), 0.5, 0.3, 10)
    assert sorted(kept.scores.tolist()) == pytest.approx([0.9, 0.95])


def test_background_faces_cut_by_the_edge_do_not_make_a_portrait_ambiguous() -> None:
    marks = np.zeros((5, 2), np.float32)
    main = Face((80, 70, 84, 115), 0.9, marks)
    edge = Face((206, 110, 45, 60), 0.9, marks)  # leaves the 250-px picture on the right
    corner = Face((10, 10, 70, 95), 0.9, marks)  # whole, nearly as large, but far from the centre
    assert prominent_faces([main, edge], (250, 250, 3)) == [main]
    assert prominent_faces([main, corner], (250, 250, 3)) == [main]


def test_two_people_side_by_side_make_a_photo_ambiguous() -> None:
    marks = np.zeros((5, 2), np.float32)
    left, right = Face((40, 70, 84, 115), 0.9, marks), Face((126, 70, 84, 115), 0.9, marks)
    assert len(prominent_faces([left, right], (250, 250, 3))) == 2


def test_the_photo_is_about_the_central_face_not_a_larger_bystander_cut_by_the_edge() -> None:
    marks = np.zeros((5, 2), np.float32)
    subject = Face((50, 45, 50, 60), 0.9, marks)  # a 150-px LFW crop: its person is at the centre
    bystander = Face((105, 20, 70, 90), 0.9, marks)  # larger, and half out of the picture on the right
    assert primary_face([bystander, subject], (150, 150, 3)) is subject
    assert primary_face([], (150, 150, 3)) is None
    # With every face cut by the edge, the best of them is still chosen rather than none.
    assert primary_face([bystander], (150, 150, 3)) is bystander
