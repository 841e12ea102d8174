"""The DET plot of a liveness score (``bench liveness --plot``): APCER against BPCER, one curve per species.

Probit axes, as ISO/IEC 19795-1 draws DET curves; the drawing is :mod:`edgeface.bench.detplot`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from edgeface.bench.detplot import Curve, DetPlot, Mark, Scale, render
from edgeface.bench.rates import Sample, apcer, bpcer, det_points, species_of
from edgeface.values import Image

log = logging.getLogger(__name__)


def liveness_det(samples: Sequence[Sample], marks: Mapping[str, float]) -> DetPlot:
    """One curve per attack species; each of ``marks`` (name → threshold) is an operating point on every curve."""
    species = species_of(samples)
    curves = [Curve(name, [(b, a) for _, b, a in det_points(samples, name)]) for name in species]
    points = [
        Mark(label, [(bpcer(samples, t) or 0.0, apcer(samples, t, name) or 0.0) for name in species])
        for label, t in marks.items()
    ]
    return DetPlot(
        "liveness DET: APCER per species vs BPCER",
        "BPCER % (live faces refused)",
        "APCER % (attacks accepted)",
        Scale.probit(),
        Scale.probit(),
        curves,
        points,
    )


def render_det(samples: Sequence[Sample], marks: Mapping[str, float], width: int = 640, height: int = 560) -> Image:
    return render(liveness_det(samples, marks), width, height)
