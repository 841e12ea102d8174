"""The frame pipeline: one outcome per detected face, with its match or the reason it has none, on real photos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from edgeface.liveness.stage import LivenessStage
from edgeface.liveness.temporal import MotionSettings
from edgeface.values import Frame, Image
from edgeface.vision.annotate import Seen
from edgeface.vision.images import load_image
from edgeface.vision.match import Gallery
from edgeface.vision.pipeline import REEMBED_SECONDS, FramePipeline
from edgeface.vision.quality import rejection
from edgeface.vision.recognize import Recognizer
from tests.support.data import LIN, STRANGER
from tests.support.liveness import FixedModel
from tests.support.models import make_config
from tests.support.scenes import crowd_photos


@pytest.fixture(scope="module")
def lin_known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recognizer]:
    """A recognizer of its own (the test sets its gallery) with Lin enrolled from his demo photo."""
    with Recognizer.from_config(make_config(tmp_path_factory.mktemp("state"))) as rec:
        image = load_image(LIN)
        (face,) = rec.detect(image)
        rec.gallery = Gallery.build({"lin": rec.embed(image, [face])}, rec.embedder.profile.output_dim)
        yield rec


def frames(image: Image, count: int, fps: float = 15.0) -> Iterator[Frame]:
    return (Frame(image, 1000.0 + k / fps, k) for k in range(count))


def test_every_detected_face_has_one_outcome_with_the_gate_it_failed(tmp_path: Path, recognizer: Recognizer) -> None:
    picture = cv2.imread(str(crowd_photos(tmp_path, (20,))[0]))
    outcomes = FramePipeline(recognizer).process(Frame(picture, 1000.0, 0))
    detected = recognizer.detector.detect(picture)
    assert [o.face.box for o in outcomes] == [f.box for f in detected], "every face, in the detector's order"
    gates = recognizer.gates
    expected = [rejection(picture, face, gates) for face in detected]
    assert [o.reason for o in outcomes] == expected
    assert {"small", "turned"} <= set(expected) and expected.count(None) >= 4, "a crowd with every kind of face"
    for outcome in outcomes:
        assert (outcome.track is None) == (outcome.reason == "small"), "only a face too small goes untracked"
        used = outcome.reason is None
        assert outcome.evidence == used and (outcome.vector is not None) == used and (outcome.match is not None) == used
    tracks = [o.track for o in outcomes if o.track is not None]
    assert len(set(tracks)) == len(tracks)


def test_a_face_decided_on_is_not_embedded_again_for_a_moment_and_never_counts_twice(lin_known: Recognizer) -> None:
    pipeline = FramePipeline(lin_known)
    first, second, later = (Frame(load_image(LIN), ts, i) for i, ts in enumerate((1000.0, 1000.1, 1001.5)))
    (seen,) = pipeline.process(first)
    assert seen.match is not None and seen.match.person == "lin" and seen.evidence and seen.track is not None
    pipeline.decided([seen.track])
    (again,) = pipeline.process(second)
    assert (again.track, again.reason, again.match, again.vector) == (seen.track, "remembered", seen.match, None)
    assert not again.evidence
    assert later.ts - first.ts > REEMBED_SECONDS
    (fresh,) = pipeline.process(later)
    assert fresh.reason is None and fresh.evidence and fresh.vector is not None, "embedded again once it is stale"
    pipeline.decided([fresh.track or 0])
    pipeline.forget_identities()  # the gallery changed: the same track is embedded again at once
    (after,) = pipeline.process(Frame(later.image, later.ts + 0.1, 3))
    assert after.track == fresh.track and after.reason is None and after.vector is not None


def test_a_stranger_is_never_decided_on_by_identity(lin_known: Recognizer) -> None:
    pipeline = FramePipeline(lin_known)
    stranger = load_image(STRANGER)
    (seen,) = pipeline.process(Frame(stranger, 1000.0, 0))
    assert seen.match is not None and seen.match.person is None and seen.evidence
    pipeline.decided([seen.track or 0])
    (again,) = pipeline.process(Frame(stranger, 1000.1, 1))
    assert again.reason is None and again.vector is not None, "an unknown result is not remembered"


@pytest.mark.parametrize(
    ("score", "motion", "expected"),
    [
        (1.0, None, (None, True, True)),
        (0.0, None, ("spoof", False, True)),  # evidence of an attack: the door denies on agreeing spoof frames
        (1.0, MotionSettings(min_seconds=0.5), ("liveness", None, False)),  # the temporal check gathers frames
    ],
)
def test_liveness_marks_each_match_of_an_enrolled_person(
    lin_known: Recognizer, score: float, motion: MotionSettings | None, expected: tuple[str | None, bool | None, bool]
) -> None:
    """``expected``: the outcome's reason, its match's ``live`` and whether it is evidence."""
    model = FixedModel(score)
    with LivenessStage(model, 0.5, motion) as stage:
        pipeline = FramePipeline(lin_known, liveness=stage)
        (seen,) = pipeline.process(Frame(load_image(LIN), 1000.0, 0))
        (stranger,) = pipeline.process(Frame(load_image(STRANGER), 1000.1, 1))
    assert seen.match is not None and seen.match.person == "lin" and seen.liveness_score == score
    assert (seen.reason, seen.match.live, seen.evidence) == expected
    assert model.calls == 1, "a stranger costs no liveness check"
    assert stranger.liveness_score is None and stranger.evidence and stranger.reason is None


def test_the_live_page_draws_each_outcome_as_it_is(tmp_path: Path, lin_known: Recognizer) -> None:
    pipeline = FramePipeline(lin_known, liveness=LivenessStage(FixedModel(1.0), 0.5, MotionSettings(min_seconds=0.5)))
    (pending,) = pipeline.process(Frame(load_image(LIN), 1000.0, 0))
    assert Seen.of(pending).label == "lin: liveness check" and Seen.of(pending).style == "unused"
    spoofed = FramePipeline(lin_known, liveness=LivenessStage(FixedModel(0.0), 0.5))
    (spoof,) = spoofed.process(Frame(load_image(LIN), 1000.0, 0))
    assert (Seen.of(spoof).label, Seen.of(spoof).style) == ("lin: spoof", "spoof")
    plain = FramePipeline(lin_known)
    (seen,) = plain.process(Frame(load_image(LIN), 1000.0, 0))
    plain.decided([seen.track or 0])
    (remembered,) = plain.process(Frame(load_image(LIN), 1000.1, 1))
    assert remembered.reason == "remembered" and Seen.of(remembered).style == "known"
    assert Seen.of(remembered).label == Seen.of(seen).label == f"lin {seen.match.similarity:.2f}"  # type: ignore[union-attr]
    picture = cv2.imread(str(crowd_photos(tmp_path, (20,))[0]))
    labels = {Seen.of(o).label for o in plain.process(Frame(picture, 1002.0, 2)) if o.reason}
    assert {"too small", "turned away"} <= labels
