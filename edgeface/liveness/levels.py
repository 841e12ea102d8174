"""``liveness.level``: named operating points, as door terminals offer them, and the threshold each one means.

Each level is the threshold on the fused score (MiniFASNet pair and screen cue, :mod:`edgeface.liveness.screen`)
that refuses a given share of bona fide presentations (BPCER) among the **whole webcam frames** of pad-dev and
pad-webcams, every source scored by a cue fitted without it (what a door camera sees; face crops and video
frames are reported apart). Measured with::

    edgeface bench liveness --by-source --real pad-dev/real --real pad-webcams/real \\
        --spoof pad-dev/spoof --spoof pad-webcams/spoof --json      # "operating_points"

A slow test re-measures them, so a change to the crops, the cue or the fusion that moves them fails until
they are re-measured.
"""

from __future__ import annotations

import logging
from typing import Literal

from edgeface.config.liveness import LivenessConfig

log = logging.getLogger(__name__)

Level = Literal["convenient", "balanced", "secure"]
LEVEL_BPCER: dict[str, float] = {"convenient": 0.01, "balanced": 0.05, "secure": 0.10}
"""The share of live whole webcam frames each level is allowed to refuse (leave-one-source-out)."""
LEVEL_THRESHOLDS: dict[str, float] = {"convenient": 0.0199, "balanced": 0.0823, "secure": 0.208}
"""The thresholds that hold :data:`LEVEL_BPCER` there (rounded down to 4 places)."""


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
        f"(refuses {bpcer:.0%} of live webcam frames in pad-dev + pad-webcams)"
    )
