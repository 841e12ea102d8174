"""Error rates from similarity scores: pure numpy, shared by the benchmarks and calibration."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def equal_error_rate(genuine: npt.NDArray[np.float32], impostor: npt.NDArray[np.float32]) -> float:
    """The rate where false non-match and false match rates cross."""
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan")
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    fnmr = np.searchsorted(np.sort(genuine), thresholds, side="left") / len(genuine)
    fmr = 1.0 - np.searchsorted(np.sort(impostor), thresholds, side="left") / len(impostor)
    i = int(np.argmin(np.abs(fnmr - fmr)))
    return float((fnmr[i] + fmr[i]) / 2.0)


def threshold_for_fmr(impostor: npt.NDArray[np.float32], target: float) -> float:
    """The lowest threshold at which at most ``target`` of impostor pairs score ≥ it."""
    if len(impostor) == 0:
        return float("nan")
    ranked = np.sort(impostor)[::-1]
    allowed = int(np.floor(target * len(ranked)))
    # Accepting needs sim ≥ t, so t just above the (allowed+1)-th highest impostor score.
    return float(np.nextafter(ranked[allowed], np.float32(np.inf))) if allowed < len(ranked) else float(ranked[-1])
