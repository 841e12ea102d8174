"""The liveness stage: the model's score alone, or with the temporal check, for each tracked face."""

from __future__ import annotations

import numpy as np

from edgeface.liveness.stage import LivenessStage
from edgeface.liveness.temporal import MotionSettings
from edgeface.values import Face
from tests.support.liveness import FPS, HEAD, FixedModel, face_at, view


class TestStage:
    IMAGE = np.zeros((480, 640, 3), np.uint8)

    def run(self, stage: LivenessStage, faces: list[Face]) -> list[bool | None]:
        out = []
        for k, face in enumerate(faces):
            ts = k / FPS
            out.append(stage.check(self.IMAGE, ts, [(4, face)])[0].live)
        return out

    def test_without_the_temporal_check_the_score_decides(self) -> None:
        face = face_at(view(HEAD, 0.0, 0.0))
        assert self.run(LivenessStage(FixedModel(0.9), 0.5), [face]) == [True]
        assert self.run(LivenessStage(FixedModel(0.2), 0.5), [face]) == [False]
        assert LivenessStage(FixedModel(0.9), 0.5).check(self.IMAGE, 0.0, []) == []

    def test_with_it_a_face_is_pending_then_live_if_it_moves_and_spoof_if_it_does_not(self) -> None:
        turning = [face_at(view(HEAD, np.radians(10) * np.sin(k / 3), 0.0)) for k in range(30)]
        still = [face_at(view(HEAD, 0.1, 0.0))] * 30
        live = self.run(LivenessStage(FixedModel(0.9), 0.5, MotionSettings()), turning)
        flat = self.run(LivenessStage(FixedModel(0.9), 0.5, MotionSettings()), still)
        assert live[0] is None and live[-1] is True
        assert flat[0] is None and flat[-1] is False
        # A low score is a spoof at once: moving cannot make a print live.
        assert self.run(LivenessStage(FixedModel(0.1), 0.5, MotionSettings()), turning) == [False] * 30

    def test_it_closes_its_model(self) -> None:
        model = FixedModel(1.0)
        with LivenessStage(model, 0.5):
            pass
        assert model.closed
