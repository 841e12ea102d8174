"""Calibration: a threshold for each target false accept rate, written into the config keeping its comments."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeface.config import Config, parse_config
from edgeface.ops.calibrate import calibrate, render_plot, set_threshold
from tests.support.data import ROOT


def test_calibration_finds_thresholds_for_each_target_far(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, 64))
    vectors = np.concatenate([c + 0.35 * rng.normal(size=(4, 64)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = [f"p{i}" for i in range(20) for _ in range(4)]
    cal = calibrate(vectors, labels)
    assert len(cal.genuine) == 20 * 6 and len(cal.impostor) == 80 * 79 // 2 - 120
    strict = [cal.thresholds[f] for f in (0.01, 0.001, 0.0001)]
    assert strict == sorted(strict), "a lower FAR needs a higher threshold"
    for far, threshold in cal.thresholds.items():
        assert (cal.impostor >= threshold).mean() <= far
    plot = render_plot(cal)
    assert cv2.imwrite(str(tmp_path / "roc.png"), plot) and plot.shape == (400, 800, 3)


def test_the_calibrated_threshold_is_written_into_the_config_keeping_comments() -> None:
    text = (ROOT / "config" / "edgeface.yaml").read_text()
    written = set_threshold(text, 0.4321)
    assert parse_config(written, "t", ROOT / "config").threshold == pytest.approx(0.4321)
    assert written.count("#") == text.count("#")
    seed = set_threshold("match:\n  distance_threshold: 0.9  # seed\n", 0.5)
    assert parse_config(seed, "t", Path()).threshold == 0.5
    assert Config().threshold != 0.4321
