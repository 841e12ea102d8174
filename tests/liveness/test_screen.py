"""The screen cue: its features on real photos, its weights file, and a fusion that can only refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeface.config import Config
from edgeface.config.liveness import SCREEN_CUE_SHA256, LivenessConfig
from edgeface.errors import ModelError
from edgeface.liveness.minifasnet import MiniFASNet
from edgeface.liveness.screen import FEATURES, ScreenCue, ScreenFused, open_screen_cue, screen_features
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
    assert cue is not None and cue.coef.shape == (len(FEATURES),) and cue.offset > 0
    assert open_screen_cue(Config(models_dir=REPO_MODELS, liveness=LivenessConfig(screen_cue=None))) is None
    copy = tmp_path / "cue.npz"
    ScreenCue(cue.mean, cue.scale, -cue.coef, cue.intercept, cue.offset).save(copy)
    with pytest.raises(ModelError, match="SHA-256"):
        ScreenCue.load(copy, SCREEN_CUE_SHA256)
    assert np.allclose(ScreenCue.load(copy, None).coef, -cue.coef)
    np.savez(copy, features=np.array(FEATURES[:-1]), mean=cue.mean[:-1])
    with pytest.raises(ModelError, match="cue"):
        ScreenCue.load(copy, None)


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
    refuse = ScreenCue(cue.mean, cue.scale, np.zeros_like(cue.coef), -50.0, 0.0)
    accept = ScreenCue(cue.mean, cue.scale, np.zeros_like(cue.coef), 50.0, 0.0)
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
