"""The IoU tracker: stable ids for moving faces, new ids for new faces, expiry, identity memory."""

from __future__ import annotations

import numpy as np
import pytest

from edgeface.values import Face, Match
from edgeface.vision.track import Tracker, box_iou

ALICE = Match("alice", 0.8, "alice", 0.2)
STRANGER = Match(None, 0.3, "alice", 0.1)


def face(x: float, y: float, size: float = 100.0) -> Face:
    return Face((x, y, size, size), 0.9, np.zeros((5, 2), np.float32))


def test_iou_of_identical_disjoint_and_half_shifted_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], np.float64)
    b = np.array([[0, 0, 10, 10], [20, 20, 10, 10], [5, 0, 10, 10]], np.float64)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 0.0, 1 / 3]])


def test_iou_of_empty_sets_and_degenerate_boxes() -> None:
    assert box_iou(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)
    assert box_iou(np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 0]]))[0, 0] == 0.0


def test_a_face_moving_slightly_keeps_its_id() -> None:
    tracker = Tracker()
    first = tracker.update([face(100, 100)], ts=0.0)
    moved = [tracker.update([face(100 + 8 * i, 100 + 4 * i)], ts=0.1 * i) for i in range(1, 6)]
    assert all(ids == first for ids in moved)


def test_a_new_face_far_away_gets_a_new_id_and_both_stay_stable() -> None:
    tracker = Tracker()
    [a] = tracker.update([face(100, 100)], ts=0.0)
    a2, b = tracker.update([face(105, 100), face(400, 100)], ts=0.1)
    assert a2 == a
    assert b != a
    # Listed in the other order, each face keeps its own id.
    assert tracker.update([face(402, 100), face(108, 100)], ts=0.2) == [b, a]


def test_each_track_is_given_to_at_most_one_face() -> None:
    tracker = Tracker()
    [a] = tracker.update([face(100, 100)], ts=0.0)
    # Two faces overlap the one track: the better overlap keeps the id, the other starts a new track.
    near, further = tracker.update([face(140, 100), face(102, 100)], ts=0.1)
    assert further == a
    assert near not in (a, further)


def test_no_faces_gives_no_ids() -> None:
    assert Tracker().update([], ts=0.0) == []


def test_a_track_expires_after_max_age() -> None:
    tracker = Tracker(max_age_seconds=1.0)
    [a] = tracker.update([face(100, 100)], ts=0.0)
    tracker.update([], ts=0.5)
    assert tracker.update([face(100, 100)], ts=1.0) == [a]  # unseen for exactly max_age: still live
    tracker.update([], ts=2.0)
    assert len(tracker) == 1
    [b] = tracker.update([face(100, 100)], ts=2.01)
    assert b != a  # ids are never reused
    assert len(tracker) == 1


def test_known_returns_a_fresh_confident_match_only() -> None:
    tracker = Tracker()
    [a] = tracker.update([face(100, 100)], ts=10.0)
    assert tracker.known(a, ts=10.0) is None
    tracker.remember(a, ALICE, ts=10.0)
    tracker.update([face(102, 100)], ts=10.5)
    assert tracker.known(a, ts=10.5) == ALICE
    assert tracker.known(a, ts=11.0) == ALICE
    assert tracker.known(a, ts=11.01) is None
    assert tracker.known(a, ts=11.5, max_age=2.0) == ALICE
    assert tracker.known(a, ts=9.0) is None  # the clock stepped back: stale, not fresh


def test_remembering_an_unknown_result_forgets_the_identity() -> None:
    tracker = Tracker()
    [a] = tracker.update([face(100, 100)], ts=0.0)
    tracker.remember(a, ALICE, ts=0.0)
    tracker.remember(a, STRANGER, ts=0.1)
    assert tracker.known(a, ts=0.1) is None


def test_memory_goes_with_the_track() -> None:
    tracker = Tracker(max_age_seconds=0.5)
    [a] = tracker.update([face(100, 100)], ts=0.0)
    tracker.remember(a, ALICE, ts=0.0)
    [b] = tracker.update([face(100, 100)], ts=0.6)
    assert b != a
    assert tracker.known(a, ts=0.6, max_age=10.0) is None
    assert tracker.known(b, ts=0.6, max_age=10.0) is None


def test_remember_names_a_dead_track() -> None:
    with pytest.raises(KeyError, match="42"):
        Tracker().remember(42, ALICE, ts=0.0)


def test_reset_forgets_every_track() -> None:
    tracker = Tracker()
    [a] = tracker.update([face(100, 100)], ts=0.0)
    tracker.reset()
    assert len(tracker) == 0
    assert tracker.update([face(100, 100)], ts=0.1) != [a]


@pytest.mark.parametrize(("iou", "age"), [(0.0, 1.0), (1.5, 1.0), (0.3, -1.0)])
def test_bad_settings_are_refused(iou: float, age: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Tracker(iou, age)
