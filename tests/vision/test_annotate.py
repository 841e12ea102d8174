"""Drawing faces: every face boxed in its style, labels that never overprint, the gate a face failed by name."""

from __future__ import annotations

import itertools

import cv2
import pytest

from edgeface.values import Face, Image, Match
from edgeface.vision.annotate import Rect, Seen, annotate, draw, place_labels
from edgeface.vision.detect import Detector
from edgeface.vision.pipeline import FaceOutcome
from edgeface.vision.quality import QualityGates, rejection
from tests.support.boxes import boxed
from tests.support.data import LIN
from tests.support.scenes import crowd_photos

GATES = QualityGates(min_face=24, max_yaw=0.6, min_sharpness=10.0)
"""The shipped quality section."""


def disjoint(a: Rect, b: Rect) -> bool:
    return a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory, detector: Detector) -> tuple[Image, list[Face]]:
    """A street frame (960 px wide) and every face YuNet finds in it."""
    image = cv2.imread(str(crowd_photos(tmp_path_factory.mktemp("crowd"), (20,))[0]))
    return image, detector.detect(image)


def test_labels_of_a_tight_row_of_faces_never_overlap_and_stay_in_the_picture() -> None:
    boxes = [(20 + 30 * i, 100, 40, 40) for i in range(12)]  # each box overlaps the next
    spots = place_labels(boxes, [(90, 16)] * len(boxes), (480, 320))
    assert all(spot is not None for spot in spots), "there is room for every label"
    placed = [spot for spot in spots if spot is not None]
    assert all(disjoint(a, b) for a, b in itertools.combinations(placed, 2))
    assert all(0 <= x <= 480 - w and 0 <= y <= 320 - h for x, y, w, h in placed)


def test_a_label_with_no_room_left_is_left_out_rather_than_drawn_over_another() -> None:
    boxes = [(5 * i, 5, 10, 10) for i in range(8)]
    spots = place_labels(boxes, [(60, 20)] * len(boxes), (64, 48))
    placed = [spot for spot in spots if spot is not None]
    assert 1 <= len(placed) < len(boxes)
    assert all(disjoint(a, b) for a, b in itertools.combinations(placed, 2))
    assert spots[0] is not None, "the first (most important) face keeps its label"


def test_a_label_goes_just_below_its_box_when_there_is_room() -> None:
    assert place_labels([(100, 50, 40, 40)], [(60, 14)], (640, 480)) == [(100, 91, 60, 14)]


def test_the_gate_a_face_fails_is_named(crowd: tuple[Image, list[Face]]) -> None:
    image, faces = crowd
    reasons = [rejection(image, face, GATES) for face in faces]
    assert "turned" in reasons and "small" in reasons and reasons.count(None) >= 4, reasons
    turned = faces[reasons.index("turned")]
    assert turned.size >= 40, "a large face, refused only for its pose"
    blurred = cv2.GaussianBlur(image, (0, 0), 6)
    assert rejection(blurred, turned, QualityGates(max_yaw=1.0, min_sharpness=10.0)) == "blurred"


def test_every_face_is_boxed_in_its_style_and_labelled(crowd: tuple[Image, list[Face]]) -> None:
    image, faces = crowd
    alice = Match("alice", 0.71, "alice", 0.2)
    seen = [
        Seen(faces[0], reason="turned"),
        Seen(faces[1], alice, reason="liveness"),
        Seen(faces[2], alice),
        Seen(faces[3], Match(None, 0.21, "alice", -1.0)),
        Seen(faces[4], Match("alice", 0.7, "alice", 0.2, live=False)),
        Seen(faces[5], Match(None, -1.0, None, -1.0)),  # nobody enrolled
    ]
    drawn = draw(image, seen)
    assert [boxed(drawn, image, s.face) for s in seen] == ["unused", "unused", "known", "unknown", "spoof", "unknown"]
    assert [s.label for s in seen] == [
        "turned away",
        "alice: liveness check",
        "alice 0.71",
        "unknown 0.21",
        "alice: spoof",
        "unknown",
    ]


def test_a_face_drawn_as_unused_and_one_not_drawn_at_all_differ(crowd: tuple[Image, list[Face]]) -> None:
    image, faces = crowd
    drawn = draw(image, [Seen(faces[0], reason="small")])
    assert boxed(drawn, image, faces[0]) == "unused"
    assert all(boxed(drawn, image, face) is None for face in faces[1:])


def test_identify_annotate_boxes_names_as_before(detector: Detector) -> None:
    image = cv2.imread(str(LIN))
    face = detector.detect(image)[0]
    assert boxed(annotate(image, [FaceOutcome(face, 1, Match("lin", 0.8, "lin", 0.1))]), image, face) == "known"
