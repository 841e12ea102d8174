"""A threshold that holds a false-accept rate per attempt, whatever the size of the gallery.

A stranger at the door is compared with every enrolled template; the chance that *some* template
beats a fixed threshold grows with the gallery (at 0.40, MobileFaceNet accepts 1 stranger in 10
with 854 people enrolled). So the threshold is derived from the embedder's impostor tail (an
:class:`~edgeface.models.profiles.ImpostorTail`, measured on development photos and shipped with
the profile, or fitted on the user's own by ``edgeface calibrate``) and the gallery size G::

    p = 1 − (1 − far) ^ (1 / G)            the per-comparison rate that gives ``far`` per attempt
    t = u + sigma / xi · ((p / zeta) ^ (−xi) − 1)

Treating one stranger's scores against G templates as independent is what lfw-dev supports: the
exponent fitted in G_eff = G^β came out at 0.93–1.03 for every profile. G counts templates, not
people: a person's centroid has a somewhat wider impostor tail than one template, so counting each
template keeps the estimate on the safe side (lfw-dev, 1,432 templates of 854 people: FAR 1.1e-3
at a 1e-3 target).

Pure math; :func:`fit_tail` fits the tail (maximum likelihood, Grimshaw's profile over xi/sigma).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeface.config import Config
from edgeface.models.profiles import ImpostorTail

log = logging.getLogger(__name__)

TAIL_QUANTILE = 0.999
"""Where a fitted tail starts: the 0.99 quantile let the realised FAR reach 2× the target on held-out data."""
MIN_EXCEEDANCES = 30
"""Fewer impostor scores above the tail's start than this cannot shape a tail."""


def tail_threshold(tail: ImpostorTail, far: float, comparisons: int) -> float:
    """The similarity a stranger beats against *any* of ``comparisons`` templates with probability ``far``."""
    p = -math.expm1(math.log1p(-far) / max(1, comparisons))  # 1 − (1 − far)^(1/G), exact for tiny p
    if p >= tail.zeta:
        return tail.u  # below the fitted tail: do not go lower than where it starts
    if abs(tail.xi) < 1e-6:
        return tail.u - tail.sigma * math.log(p / tail.zeta)
    t = tail.u + tail.sigma / tail.xi * (float((p / tail.zeta) ** (-tail.xi)) - 1.0)
    return min(t, 1.0)


def tail_survival(tail: ImpostorTail, t: float) -> float:
    """P(one impostor comparison scores above t) under the tail (``zeta`` below its start)."""
    if t < tail.u:
        return tail.zeta
    z = 1.0 + tail.xi * (t - tail.u) / tail.sigma
    if z <= 0.0:
        return 0.0
    return tail.zeta * (math.exp(-(t - tail.u) / tail.sigma) if abs(tail.xi) < 1e-6 else float(z ** (-1.0 / tail.xi)))


def predicted_far(tail: ImpostorTail, t: float, comparisons: int) -> float:
    """The false-accept rate per attempt that threshold ``t`` gives against ``comparisons`` templates."""
    return -math.expm1(max(1, comparisons) * math.log1p(-tail_survival(tail, t)))


@dataclass(frozen=True)
class Threshold:
    """The threshold in force and where it comes from (shown by ``people list``, ``doctor``, the live page)."""

    value: float
    target_far: float | None
    """The false-accept rate per attempt it holds; None for a fixed threshold."""
    source: str

    def describe(self) -> str:
        if self.target_far is None:
            return f"{self.value:.3f} (fixed: {self.source})"
        return f"{self.value:.3f} for a false-accept rate of {self.target_far:g} per attempt ({self.source})"


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the threshold is chosen: fixed by the config, or from a tail and a target FAR for each gallery."""

    target_far: float
    tail: ImpostorTail | None
    tail_source: str
    fixed: float | None
    fixed_source: str

    @classmethod
    def from_config(cls, cfg: Config) -> ThresholdPolicy:
        profile = cfg.profile
        explicit = cfg.match.fixed_similarity()
        fixed_source = "match.distance_threshold" if cfg.match.distance_threshold is not None else "match.threshold"
        tail, tail_source = cfg.match.impostor_tail, "match.impostor_tail"
        if tail is None:
            tail, tail_source = profile.impostor_tail, f"{profile.name} impostor tail"
        if explicit is None and tail is None:
            log.warning(
                "embedder %s has no impostor tail, so match.target_far cannot be held: using the profile's fixed "
                "threshold %.3f; run `edgeface calibrate --write-config` on your own photos to fit one",
                profile.name,
                profile.threshold,
            )
            explicit, fixed_source = profile.threshold, f"{profile.name} profile default"
        return cls(cfg.match.target_far, tail, tail_source, explicit, fixed_source)

    def for_gallery(self, comparisons: int) -> Threshold:
        """The threshold for a gallery of ``comparisons`` templates."""
        if self.fixed is not None or self.tail is None:
            return Threshold(self.fixed if self.fixed is not None else 1.0, None, self.fixed_source)
        value = tail_threshold(self.tail, self.target_far, comparisons)
        return Threshold(value, self.target_far, f"{self.tail_source}, {comparisons} templates")


def _gpd_profile(theta: float, y: npt.NDArray[np.float64]) -> float:
    """Grimshaw's profile log-likelihood of a GPD at theta = xi / sigma (−inf where undefined)."""
    n = len(y)
    if abs(theta) < 1e-12:
        mean = float(y.mean())
        return -n * math.log(mean) - n
    z = 1.0 + theta * y
    if np.any(z <= 0):
        return -math.inf
    xi = float(np.mean(np.log(z)))
    sigma = xi / theta
    if sigma <= 0:
        return -math.inf
    return -n * math.log(sigma) - (1.0 / xi + 1.0) * n * xi


def _gpd_fit(y: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Maximum-likelihood (sigma, xi) of a generalised Pareto distribution for exceedances y > 0."""
    top, mean = float(y.max()), float(y.mean())
    low, high = -1.0 / top * (1 - 1e-9), 50.0 / mean
    # A coarse search over theta on both sides of 0, then golden-section refinement around the best point.
    steps = np.geomspace(1e-6, 1.0, 400)
    grid = np.concatenate([low * steps[::-1], high * steps])
    values = [_gpd_profile(float(g), y) for g in grid]
    i = int(np.argmax(values))
    a, b = sorted((float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])))
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if _gpd_profile(c, y) > _gpd_profile(d, y):
            b = d
        else:
            a = c
    theta = (a + b) / 2.0
    if abs(theta) < 1e-12:
        return mean, 0.0
    xi = float(np.mean(np.log1p(theta * y)))
    return xi / theta, xi


def fit_tail(impostor: npt.NDArray[np.float32], fitted_on: str, quantile: float = TAIL_QUANTILE) -> ImpostorTail:
    """The tail of single-template impostor scores above their ``quantile``; ValueError with too few scores."""
    scores = np.asarray(impostor, np.float64)
    needed = math.ceil(MIN_EXCEEDANCES / (1.0 - quantile))
    if len(scores) < needed:
        raise ValueError(
            f"{len(scores)} impostor comparisons cannot shape a tail above the {quantile:g} quantile "
            f"(at least {needed} are needed: more people or more photos)"
        )
    u = float(np.quantile(scores, quantile))
    exceed = scores[scores > u] - u
    sigma, xi = _gpd_fit(exceed)
    return ImpostorTail(
        u=round(u, 5),
        zeta=round(len(exceed) / len(scores), 6),
        sigma=round(max(sigma, 1e-6), 5),
        xi=round(min(max(xi, -1.0), 1.0), 5),
        fitted_on=fitted_on,
    )
