"""Liveness in the daemon: a face that fails it never opens the door; the demo clip passes both checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from edgeface.config import LivenessConfig, RelayConfig, TemporalConfig
from edgeface.liveness.levels import liveness_threshold
from edgeface.liveness.minifasnet import model_specs
from edgeface.liveness.stage import LivenessStage
from edgeface.liveness.temporal import MotionSettings
from edgeface.models.runtime import RuntimeOptions
from edgeface.ops.enroll import photos_in
from edgeface.values import EventType, Frame
from edgeface.vision.images import load_image
from edgeface.vision.recognize import Recognizer, open_detector
from tests.support.data import DEMO_CLIP, DEMO_FACES, LIN
from tests.support.door import service_bench
from tests.support.liveness import FPS, FixedModel
from tests.support.models import make_config

pytestmark = pytest.mark.slow

RELAY = RelayConfig(pulse_seconds=0.2, pin_factory="mock")


@pytest.mark.parametrize(
    ("score", "temporal", "expected"), [(0.0, False, "spoof"), (1.0, True, "spoof"), (1.0, False, None)]
)
def test_the_door_never_opens_for_a_face_that_fails_liveness(
    tmp_path: Path, score: float, temporal: bool, expected: str | None
) -> None:
    cfg = make_config(tmp_path, relay=RELAY)
    photo = load_image(LIN)
    motion = MotionSettings(min_seconds=0.5) if temporal else None
    with (
        Recognizer.from_config(cfg) as recognizer,
        LivenessStage(FixedModel(score), 0.5, motion) as liveness,
        service_bench(cfg, recognizer, enrol=photos_in(DEMO_FACES), liveness=liveness) as bench,
    ):
        decisions = [d for k in range(30) for d in bench.service.process(Frame(photo, 1000.0 + k / FPS, k))]
        assert decisions, "a matched face must lead to a decision"
        if expected is None:
            assert decisions[0].type is EventType.GRANTED
        else:
            assert [(d.type, d.reason) for d in decisions] == [(EventType.DENIED, expected)]
            assert True not in [s.state for s in bench.pin.states], "the relay must never pulse for a spoof"


def test_the_demo_clip_is_granted_with_both_checks_on(tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path, relay=RELAY, liveness=LivenessConfig(enabled=True, temporal=TemporalConfig(enabled=True))
    )
    lv = cfg.liveness
    with (
        Recognizer.from_config(cfg) as recognizer,
        LivenessStage.open(
            model_specs(cfg),
            RuntimeOptions.from_config(cfg.runtime),
            liveness_threshold(lv),
            MotionSettings.from_config(lv.temporal),
            open_detector(cfg),
        ) as liveness,
        service_bench(cfg, recognizer, enrol=photos_in(DEMO_FACES), liveness=liveness) as bench,
    ):
        video, index, decisions = cv2.VideoCapture(str(DEMO_CLIP)), 0, []
        while (read := video.read())[0]:
            if index % 2 == 0:  # about 15 fps, as a small board keeps up
                decisions += bench.service.process(Frame(read[1], 1000.0 + index / 30.0, index))
            index += 1
        known = [(d.type, d.person, d.reason) for d in decisions if d.person is not None]
        assert known == [(EventType.GRANTED, "lin_manuel_miranda", None)]
        assert [s.state for s in bench.pin.states][-2:] == [True, False]
