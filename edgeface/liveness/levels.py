"""``liveness.level``: named operating points, as door terminals offer them, and the threshold each one means.

Each level is the threshold on the fused score (:meth:`MiniFASNet.score`) that
refuses a given share of bona fide presentations (BPCER) on pad-dev's
development half (:data:`edgeface.bench.padset.DEV_SUBJECTS`); the held-out
half was not looked at to choose them. Measured with::

    edgeface bench liveness --real pad-dev/real --spoof pad-dev/spoof/print --spoof pad-dev/spoof/replay \\
        --half dev --json      # "operating_points"

A test re-measures them, so a change to the crops or the fusion that moves them fails until they are re-measured.
"""

from __future__ import annotations

import logging
from typing import Literal

from edgeface.config.liveness import LivenessConfig

log = logging.getLogger(__name__)

Level = Literal["convenient", "balanced", "secure"]
LEVEL_BPCER: dict[str, float] = {"convenient": 0.01, "balanced": 0.05, "secure": 0.10}
"""The share of live faces each level is allowed to refuse on the development half."""
LEVEL_THRESHOLDS: dict[str, float] = {"convenient": 0.0144, "balanced": 0.0609, "secure": 0.0875}
"""The thresholds that hold :data:`LEVEL_BPCER` on the development half (rounded down to 4 places)."""


def liveness_threshold(section: LivenessConfig) -> float:
    """``liveness.threshold`` when set (an override), else the level's measured threshold."""
    return section.threshold if section.threshold is not None else LEVEL_THRESHOLDS[section.level]


def describe(section: LivenessConfig) -> str:
    """One line for the startup log and ``doctor``."""
    if section.threshold is not None:
        return f"threshold {section.threshold:.4f} (liveness.threshold overrides level {section.level})"
    bpcer = LEVEL_BPCER[section.level]
    return (
        f"level {section.level}: threshold {LEVEL_THRESHOLDS[section.level]:.4f} "
        f"(refuses {bpcer:.0%} of live faces on pad-dev's development half)"
    )
