"""The screen cue: its features on real photos, its weights file, and a fusion that can only refuse."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgeface.config import Config
from edgeface.config.liveness import SCREEN_CUE_SHA256, LivenessConfig
from edgeface.errors import ModelError
from edgeface.liveness.minifasnet import MiniFASNet
from edgeface.liveness.screen import (
    FACE_INPUTS,
    FEATURES,
    FRAME_INPUTS,
    CuePart,
    ScreenCue,
    ScreenFused,
    open_screen_cue,
    screen_features,
)
from edgeface.liveness.stage import LivenessStage
from edgeface.vision.detect import Detector
from tests.liveness.test_minifasnet import photo_face
from tests.support.data import LIVENESS, SHARED
from tests.support.models import REPO_MODELS

SHIPPED = Config(models_dir=REPO_MODELS)


def test_the_features_are_finite_on_whole_frames_tight_crops_and_faces_at_the_edge(detector: Detector) -> None:
    for path in [*sorted((LIVENESS / "real").iterdir()), *sorted((SHARED / "faces" / "barack_obama").iterdir())[:2]]:
        image, face = photo_face(detector, path)
        features = screen_features(image, face.box)
        assert features.shape == (len(FEATURES) - 2,) and np.isfinite(features).all(), path
        w, h = face.box[2:]
        at_edge = screen_features(image, (-w / 2, -h / 2, w, h))  # a face cut by the top-left corner
        assert np.isfinite(at_edge).all()


def test_the_shipped_cue_loads_pinned_and_a_different_file_is_refused(tmp_path: Path) -> None:
    cue = open_screen_cue(SHIPPED)
    assert cue is not None and [(p.name, p.features) for p in cue.parts] == [
        ("face", FACE_INPUTS),
        ("frame", FRAME_INPUTS),
    ]
    assert cue.parts[0].offset > 0  # the face part only vetoes what it is sure of
    assert open_screen_cue(Config(models_dir=REPO_MODELS, liveness=LivenessConfig(screen_cue=None))) is None
    copy = tmp_path / "cue.npz"
    ScreenCue(tuple(replace(p, coef=-p.coef) for p in cue.parts)).save(copy)
    with pytest.raises(ModelError, match="SHA-256"):
        ScreenCue.load(copy, SCREEN_CUE_SHA256)
    assert np.allclose(ScreenCue.load(copy, None).parts[1].coef, -cue.parts[1].coef)
    unknown = replace(cue.parts[1], features=(*FRAME_INPUTS[:-1], "bezel_colour"))
    ScreenCue((cue.parts[0], unknown)).save(copy)
    with pytest.raises(ModelError, match="frame part was fitted on features this version does not compute"):
        ScreenCue.load(copy, None)
    np.savez(copy, parts=np.array(["face"]), mean=cue.parts[0].mean)
    with pytest.raises(ModelError, match="not a screen cue"):
        ScreenCue.load(copy, None)


def test_a_face_is_as_live_as_the_most_doubtful_part_says() -> None:
    inputs = np.zeros((1, len(FEATURES)), np.float32)

    def part(intercept: float) -> CuePart:
        return CuePart("p", FEATURES[:2], np.zeros(2), np.ones(2), np.zeros(2), intercept, 0.0)

    assert ScreenCue((part(2.0), part(-1.0))).probability(inputs)[0] == pytest.approx(1 / (1 + np.e))
    assert ScreenCue((part(2.0),)).probability(inputs)[0] == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_the_fusion_never_scores_a_face_above_the_networks(detector: Detector, minifasnet: MiniFASNet) -> None:
    cue = open_screen_cue(SHIPPED)
    assert cue is not None
    fused = ScreenFused(minifasnet, cue)
    for path in sorted((LIVENESS / "real").iterdir()) + sorted((LIVENESS / "spoof").iterdir()):
        image, face = photo_face(detector, path)
        networks = float(minifasnet.score(image, [face])[0])
        assert float(fused.score(image, [face])[0]) <= networks + 1e-6, path
    # A cue sure that everything is a screen refuses everything; one sure of the opposite changes nothing.
    image, face = photo_face(detector, LIVENESS / "real" / "image_T1.jpg")
    refuse = ScreenCue(tuple(replace(p, coef=np.zeros_like(p.coef), intercept=-50.0) for p in cue.parts))
    accept = ScreenCue(tuple(replace(p, coef=np.zeros_like(p.coef), intercept=50.0, offset=0.0) for p in cue.parts))
    assert float(ScreenFused(minifasnet, refuse).score(image, [face])[0]) < 1e-6
    assert float(ScreenFused(minifasnet, accept).score(image, [face])[0]) == pytest.approx(
        float(minifasnet.score(image, [face])[0]), abs=1e-6
    )
    assert fused.score(image, []).shape == (0,)


def test_the_daemon_stage_runs_the_networks_with_the_cue_by_default() -> None:
    with LivenessStage.from_config(SHIPPED) as stage:
        assert isinstance(stage.model, ScreenFused)
    with LivenessStage.from_config(Config(models_dir=REPO_MODELS, liveness=LivenessConfig(screen_cue=None))) as stage:
        assert isinstance(stage.model, MiniFASNet)
