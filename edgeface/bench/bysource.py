"""``edgeface bench liveness --by-source``: leave-one-source-out rates, by capture kind and attack species.

Every source is scored by a screen cue fitted on the other sources only
(:func:`edgeface.bench.screenfit.leave_one_source_out`); MiniFASNet itself never saw any of them. The
rates are given separately for whole webcam frames (what a door camera sees), face crops and video
frames, each with BPCER and the APCER of every species (print, phone replay, screen replay), and 95 %
intervals that resample **sources** (a source is one webcam, one room, a few sessions). Thresholds:
``operating_points`` hold BPCER 1 %, 5 % and 10 % on the whole frames here; ``levels`` are the shipped
ones. ``networks`` gives the same figures for MiniFASNet alone, the score before the cue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeface.bench import rates
from edgeface.bench.padset import CAPTURES
from edgeface.bench.screenfit import Extracted
from edgeface.liveness.levels import LEVEL_BPCER, LEVEL_THRESHOLDS

log = logging.getLogger(__name__)

SPECIES = ("print", "phone replay", "screen replay")


@dataclass(frozen=True)
class BySourceReport:
    data: Extracted
    scores: npt.NDArray[np.float64]
    """The fused score of every photo, each from a cue that never saw its source (NaN: no face)."""

    def samples(self, capture: str, scores: npt.NDArray[np.float64] | None = None) -> list[rates.Sample]:
        values = self.scores if scores is None else scores
        return [
            rates.Sample(float(v), p.species, p.source)
            for p, v in zip(self.data.photos, values, strict=True)
            if p.capture == capture and not np.isnan(v)
        ]

    def at(self, threshold: float, scores: npt.NDArray[np.float64] | None = None) -> dict[str, object]:
        out: dict[str, object] = {"threshold": round(threshold, 4)}
        for capture in CAPTURES:
            shown = self.samples(capture, scores)
            if not shown:
                continue
            ci = rates.intervals(shown, threshold)
            out[capture] = {
                "bona_fide": sum(s.species is None for s in shown),
                "bpcer": rates.rounded(rates.bpcer(shown, threshold)),
                "bpcer_ci": ci["bpcer"],
                "apcer": {
                    name: {
                        "attacks": sum(s.species == name for s in shown),
                        "apcer": rates.rounded(rates.apcer(shown, threshold, name)),
                        "ci": ci[name],
                    }
                    for name in rates.species_of(shown)
                },
            }
        return out

    def operating_points(self, scores: npt.NDArray[np.float64] | None = None) -> dict[str, dict[str, object]]:
        frames = self.samples("frame", scores)
        out: dict[str, dict[str, object]] = {}
        for level, target in LEVEL_BPCER.items():
            threshold = rates.threshold_at_bpcer(frames, target)
            if threshold is not None:
                out[level] = {"target_bpcer": target, **self.at(threshold, scores)}
        return out

    def by_source(self, threshold: float) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for source in sorted({p.source for p in self.data.photos}):
            rows = [(p, v) for p, v in zip(self.data.photos, self.scores, strict=True) if p.source == source]
            bona = [v for p, v in rows if p.species is None and not np.isnan(v)]
            attacks = [v for p, v in rows if p.species is not None and not np.isnan(v)]
            out[source] = {
                "bona_fide": len(bona),
                "refused": int(sum(v < threshold for v in bona)),
                "attacks": len(attacks),
                "accepted": int(sum(v >= threshold for v in attacks)),
            }
        return out

    def to_dict(self) -> dict[str, object]:
        networks = self.data.networks
        return {
            "photos": len(self.data.photos),
            "no_face": int((~self.data.found).sum()),
            "sources": len({p.source for p in self.data.photos}),
            "ms_per_face": None if self.data.ms_per_face is None else round(self.data.ms_per_face, 2),
            "operating_points": self.operating_points(),
            "levels": {name: self.at(t) for name, t in LEVEL_THRESHOLDS.items()},
            "by_source": self.by_source(LEVEL_THRESHOLDS["balanced"]),
            "networks": {
                "operating_points": self.operating_points(networks),
                "levels": {name: self.at(t, networks) for name, t in LEVEL_THRESHOLDS.items()},
            },
        }

    def table(self) -> list[str]:
        lines = [
            f"{len(self.data.photos)} photos from {len({p.source for p in self.data.photos})} sources, "
            f"{int((~self.data.found).sum())} without a face; each source scored by a cue fitted without it",
            f"ms per face    {_ms(self.data.ms_per_face)} (MiniFASNet pair and screen cue)",
            "",
            f"{'operating point':<32}{'capture':<8}{'BPCER (95 % CI over sources)':<30}"
            + "".join(f"{name:<30}" for name in SPECIES),
        ]
        networks = self.data.networks
        points = [(f"{k} here", v) for k, v in self.operating_points().items()]
        points += [(f"{k} shipped", self.at(t)) for k, t in LEVEL_THRESHOLDS.items()]
        points += [(f"{k} here, networks only", v) for k, v in self.operating_points(networks).items()]
        for label, point in points:
            for capture in CAPTURES:
                row = point.get(capture)
                if not isinstance(row, dict):
                    continue
                head = f"{label:<32}" if capture == "frame" else " " * 32
                bpcer = f"{_pct(row['bpcer'])} {_ci(row['bpcer_ci'])}"
                by = row["apcer"]
                cells = [
                    f"{_pct(by[n]['apcer'])} of {by[n]['attacks']:<4} {_ci(by[n]['ci'])}" if n in by else "-"
                    for n in SPECIES
                ]
                lines.append(f"{head}{capture:<8}{bpcer:<30}" + "".join(f"{c:<30}" for c in cells))
            lines.append(f"{'':<32}threshold {point['threshold']}")
        lines += ["", f"by source at the shipped balanced level ({LEVEL_THRESHOLDS['balanced']})"]
        for source, r in self.by_source(LEVEL_THRESHOLDS["balanced"]).items():
            lines.append(
                f"  {source:<10} live refused {r['refused']:>3}/{r['bona_fide']:<4} "
                f"attacks accepted {r['accepted']:>3}/{r['attacks']}"
            )
        return lines


def _pct(value: object) -> str:
    return f"{100 * value:5.1f} %" if isinstance(value, float) else "    - "


def _ci(value: object) -> str:
    return f"[{100 * value[0]:.1f}, {100 * value[1]:.1f}]" if isinstance(value, tuple) else "[-]"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
