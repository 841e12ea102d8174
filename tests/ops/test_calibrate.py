"""Calibration: pair thresholds, the impostor tail fitted on your photos, and the config it writes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeface.config import parse_config
from edgeface.errors import ConfigError
from edgeface.ops.calibrate import calibrate, render_plot, set_impostor_tail
from edgeface.vision.threshold import ThresholdPolicy
from tests.support.data import ROOT


def people(count: int, photos: int, seed: int, spread: float = 0.35) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 64))
    vectors = np.concatenate([c + spread * rng.normal(size=(photos, 64)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, [f"p{i}" for i in range(count) for _ in range(photos)]


def test_calibration_finds_thresholds_for_each_target_far(tmp_path: Path) -> None:
    vectors, labels = people(20, 4, seed=3)
    cal = calibrate(vectors, labels)
    assert len(cal.genuine) == 20 * 6 and len(cal.impostor) == 80 * 79 // 2 - 120
    strict = [cal.thresholds[f] for f in (0.01, 0.001, 0.0001)]
    assert strict == sorted(strict), "a lower FAR needs a higher threshold"
    for far, threshold in cal.thresholds.items():
        assert (cal.impostor >= threshold).mean() <= far
    plot = render_plot(cal)
    assert cv2.imwrite(str(tmp_path / "roc.png"), plot) and plot.shape == (400, 800, 3)


def test_too_few_impostor_pairs_fit_no_tail_and_say_how_many_are_needed() -> None:
    vectors, labels = people(20, 4, seed=3)
    cal = calibrate(vectors, labels)
    assert cal.tail is None and cal.tail_problem is not None and "at least 30000" in cal.tail_problem


def test_the_fitted_tail_predicts_how_often_new_strangers_beat_a_gallery() -> None:
    vectors, labels = people(100, 4, seed=5)
    cal = calibrate(vectors, labels, "synthetic people")
    assert cal.tail is not None and cal.tail.fitted_on.startswith("synthetic people")
    # Strangers the fit never saw, against a gallery of 50 people it never saw either.
    gallery, _ = people(50, 1, seed=6)
    strangers, _ = people(4000, 1, seed=7)
    best = (strangers @ gallery.T).max(axis=1)
    text = set_impostor_tail("", cal.tail, target_far=0.01)
    cfg = parse_config(text, "calibrated", Path())
    threshold = ThresholdPolicy.from_config(cfg).for_gallery(len(gallery))
    realised = float((best >= threshold.value).mean())
    assert threshold.target_far == 0.01 and 0.003 <= realised <= 0.03


def test_the_tail_is_written_into_the_config_keeping_comments_and_replacing_a_fixed_threshold() -> None:
    vectors, labels = people(100, 4, seed=5)
    tail = calibrate(vectors, labels).tail
    assert tail is not None
    text = (ROOT / "config" / "edgeface.yaml").read_text()
    written = set_impostor_tail(text.replace("threshold: null ", "threshold: 0.4  "), tail, target_far=0.002)
    cfg = parse_config(written, "t", ROOT / "config")
    assert cfg.match.impostor_tail == tail and cfg.match.target_far == 0.002
    assert cfg.match.threshold is None and cfg.match.distance_threshold is None, "a fixed threshold would win"
    kept = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert all(line in written for line in kept), "every comment line survives"
    seed = set_impostor_tail("match:\n  distance_threshold: 0.9  # the seed's\n", tail, 0.001)
    assert parse_config(seed, "t", Path()).match.fixed_similarity() is None
    with pytest.raises(ConfigError, match="mapping"):
        set_impostor_tail("- a list\n", tail, 0.001)
