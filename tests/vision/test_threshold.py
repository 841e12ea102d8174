"""A threshold that holds a false-accept rate per attempt as the gallery grows."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from edgeface.config import Config, EmbedderConfig, MatchConfig
from edgeface.models.profiles import BUILTIN_PROFILES, ImpostorTail
from edgeface.vision.threshold import ThresholdPolicy, fit_tail, predicted_far, tail_threshold

TAIL = ImpostorTail(u=0.3361, zeta=0.001, sigma=0.03192, xi=-0.0383)


def gpd_sample(rng: np.random.Generator, n: int, sigma: float, xi: float) -> np.ndarray:
    """Exceedances of a generalised Pareto distribution, by inverting its CDF."""
    uniform = rng.uniform(size=n)
    return sigma / xi * ((1 - uniform) ** (-xi) - 1)


def test_the_threshold_rises_with_the_gallery_and_gives_the_target_far_back() -> None:
    values = [tail_threshold(TAIL, 1e-3, g) for g in (1, 10, 100, 1000, 10_000)]
    assert values == sorted(values) and values[0] == pytest.approx(TAIL.u)
    for g in (10, 100, 1000):
        assert predicted_far(TAIL, tail_threshold(TAIL, 1e-3, g), g) == pytest.approx(1e-3, rel=1e-6)
    # A looser target never asks for a higher threshold.
    assert tail_threshold(TAIL, 1e-2, 100) < tail_threshold(TAIL, 1e-3, 100)


def test_below_the_fitted_tail_the_threshold_stops_at_its_start() -> None:
    assert tail_threshold(TAIL, 0.5, 1) == TAIL.u
    assert tail_threshold(ImpostorTail(u=0.2, zeta=0.01, sigma=0.03, xi=0.0), 1e-3, 1) > 0.2  # exponential tail


def test_a_tail_fitted_on_scores_recovers_the_distribution_they_came_from() -> None:
    rng = np.random.default_rng(11)
    body = rng.uniform(-0.3, 0.3, size=999_000)
    tail = 0.3 + gpd_sample(rng, 1000, sigma=0.04, xi=-0.1)
    fitted = fit_tail(np.concatenate([body, tail]).astype(np.float32), "synthetic", quantile=0.999)
    assert fitted.zeta == pytest.approx(0.001, rel=0.05) and fitted.fitted_on == "synthetic"
    assert fitted.sigma == pytest.approx(0.04, rel=0.35) and -0.45 < fitted.xi < 0.2
    # What matters: the thresholds it gives, against the true tail's.
    truth = ImpostorTail(u=0.3, zeta=0.001, sigma=0.04, xi=-0.1)
    for g in (10, 100):
        assert tail_threshold(fitted, 1e-3, g) == pytest.approx(tail_threshold(truth, 1e-3, g), abs=0.02)


def test_too_few_scores_cannot_shape_a_tail() -> None:
    with pytest.raises(ValueError, match="at least 30000"):
        fit_tail(np.zeros(1000, np.float32), "too few")


def test_every_builtin_profile_but_the_fp32_facenet_ships_a_tail() -> None:
    without = sorted(name for name, profile in BUILTIN_PROFILES.items() if profile.impostor_tail is None)
    assert without == ["facenet_casia"]


def test_the_policy_follows_the_profile_unless_a_threshold_is_fixed() -> None:
    policy = ThresholdPolicy.from_config(Config())
    small, large = policy.for_gallery(10), policy.for_gallery(1000)
    assert small.target_far == large.target_far == 1e-3 and small.value < large.value
    assert "mobilefacenet_int8 impostor tail, 1000 templates" in large.describe()
    fixed = ThresholdPolicy.from_config(Config(match=MatchConfig(threshold=0.45))).for_gallery(1000)
    assert (fixed.value, fixed.target_far, fixed.source) == (0.45, None, "match.threshold")
    tail = ImpostorTail(u=0.2, zeta=0.001, sigma=0.02, xi=0.0, fitted_on="mine")
    own = ThresholdPolicy.from_config(Config(match=MatchConfig(impostor_tail=tail, target_far=0.01)))
    assert own.for_gallery(100).value == pytest.approx(tail_threshold(tail, 0.01, 100))


def test_other_weights_drop_the_shipped_tail_and_fall_back_to_a_fixed_threshold_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = Config(models_dir=Path("/m"), embedder=EmbedderConfig(profile="mobilefacenet_int8", model="mine.onnx"))
    assert cfg.profile.impostor_tail is None
    with caplog.at_level(logging.WARNING, logger="edgeface.vision.threshold"):
        threshold = ThresholdPolicy.from_config(cfg).for_gallery(500)
    assert threshold.target_far is None and threshold.value == BUILTIN_PROFILES["mobilefacenet_int8"].threshold
    assert "edgeface calibrate" in caplog.text
    # The same file under another name, pinned to the shipped SHA-256, keeps its tail.
    pinned = EmbedderConfig(model="copy.onnx", sha256=BUILTIN_PROFILES["mobilefacenet_int8"].sha256)
    assert pinned.resolve().impostor_tail is not None
    assert math.isfinite(tail_threshold(TAIL, 1e-3, 10**9))
