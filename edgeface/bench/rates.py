"""ISO/IEC 30107-3 error rates of a liveness score, their operating points and subject-resampled intervals.

A face is accepted as live when its score is at least the threshold. BPCER is
the share of bona fide presentations refused, APCER the share of attacks of
one species accepted; a system is rated at its worst species.

Confidence intervals resample **subjects** with replacement (a bootstrap over
clusters): the frames of one session are near copies, and resampling them one
by one would make a handful of people look like hundreds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

BOOTSTRAP = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Sample:
    """One presentation: its score, species (None: bona fide) and subject."""

    score: float
    species: str | None
    subject: str


def bpcer(samples: Sequence[Sample], threshold: float) -> float | None:
    bona = [s.score for s in samples if s.species is None]
    return None if not bona else sum(v < threshold for v in bona) / len(bona)


def apcer(samples: Sequence[Sample], threshold: float, species: str) -> float | None:
    attacks = [s.score for s in samples if s.species == species]
    return None if not attacks else sum(v >= threshold for v in attacks) / len(attacks)


def worst_apcer(samples: Sequence[Sample], threshold: float) -> float | None:
    rates = [apcer(samples, threshold, name) for name in species_of(samples)]
    known = [r for r in rates if r is not None]
    return max(known) if known else None


def species_of(samples: Sequence[Sample]) -> list[str]:
    return sorted({s.species for s in samples if s.species is not None})


def threshold_at_bpcer(samples: Sequence[Sample], target: float) -> float | None:
    """The highest threshold that refuses at most ``target`` of the bona fide presentations (None: none)."""
    bona = np.sort([s.score for s in samples if s.species is None])
    if bona.size == 0:
        return None
    # Refused are the scores strictly below the threshold: at most floor(target·n) of them.
    return float(bona[min(math.floor(target * bona.size + 1e-9), bona.size - 1)])


def det_points(samples: Sequence[Sample], species: str) -> list[tuple[float, float, float]]:
    """(threshold, BPCER, APCER of ``species``) at every distinct score: the DET curve."""
    scores = sorted({s.score for s in samples if s.species in (None, species)})
    return [(t, bpcer(samples, t) or 0.0, apcer(samples, t, species) or 0.0) for t in scores]


def intervals(
    samples: Sequence[Sample], threshold: float, resamples: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED
) -> dict[str, tuple[float, float] | None]:
    """Central :data:`CONFIDENCE` intervals over subjects drawn with replacement, at one threshold.

    Keys: ``bpcer``, each species, and ``worst`` (the worst species' APCER in each draw). A draw without any
    presentation of a kind leaves that rate out of its interval; no draw at all gives None.
    """
    names = species_of(samples)
    subjects = sorted({s.subject for s in samples})
    index = {name: i for i, name in enumerate(subjects)}
    kinds = [None, *names]
    # Per subject: errors and presentations of each kind (bona fide refused, attacks of each species accepted).
    errors = np.zeros((len(subjects), len(kinds)))
    totals = np.zeros((len(subjects), len(kinds)))
    for s in samples:
        k = kinds.index(s.species)
        totals[index[s.subject], k] += 1
        errors[index[s.subject], k] += (s.score < threshold) if s.species is None else (s.score >= threshold)
    if not subjects:
        return {"bpcer": None, **{n: None for n in names}, "worst": None}
    draws = np.random.default_rng(seed).integers(0, len(subjects), (resamples, len(subjects)))
    err, tot = errors[draws].sum(axis=1), totals[draws].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(tot > 0, err / tot, np.nan)
    out = {key: _central(rates[:, k]) for k, key in enumerate(["bpcer", *names])}
    # The worst species only means something in a draw that has every species in it.
    attack = rates[:, 1:]
    whole = ~np.any(np.isnan(attack), axis=1)
    out["worst"] = _central(attack[whole].max(axis=1)) if names and whole.any() else None
    return out


def _central(values: npt.NDArray[np.float64]) -> tuple[float, float] | None:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = (1.0 - CONFIDENCE) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return round(float(lo), 4), round(float(hi), 4)


def rounded(value: float | None) -> float | None:
    """A rate as the reports print it: four decimals, None where nothing was measured."""
    return None if value is None else round(value, 4)
