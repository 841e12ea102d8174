"""``edgeface bench liveness``: presentation-attack detection error rates on folders of photos.

The figures follow ISO/IEC 30107-3:

* **APCER** (attack presentation classification error rate): the share of
  attack presentations accepted as live, computed per attack instrument
  species (each ``--spoof`` folder is one species); the headline APCER is the
  highest of them, as the standard asks.
* **BPCER** (bona fide presentation classification error rate): the share of
  bona fide presentations refused as attacks. Every photo under each ``--real``
  folder counts, recursively, so a ``faces/`` tree with person folders works.

A presentation is one photo; its face is the largest detected (the one a door
camera would be looking at). Photos where no face is found are not
presentations to the liveness stage: they are counted apart (``no_face``) and
left out of both rates. A face is accepted when its fused score is at least
the threshold. ``ms_per_face`` is the median time of the liveness stage for one
face (crops and both networks), i.e. what it adds per matched face on a frame.

With a manifest (``--manifest``, or a ``manifest.csv`` found beside the
folders, as in pad-dev) every photo also has a source and a subject: the report
breaks the rates down by both, gives 95 % intervals from resampling subjects
(:mod:`edgeface.bench.rates`), can keep one half of the subject split
(``--half``), and evaluates the shipped levels. Without one, a photo's subject
is its folder. ``operating_points`` are the thresholds that hold BPCER 1 %, 5 %
and 10 % on the photos benchmarked; ``levels`` are the shipped thresholds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeface.bench import rates
from edgeface.bench.padset import HALVES, Manifest, Provenance, half_of
from edgeface.errors import ConfigError, EdgefaceError
from edgeface.liveness.levels import LEVEL_BPCER, LEVEL_THRESHOLDS
from edgeface.liveness.minifasnet import LivenessModel
from edgeface.vision.detect import Detector
from edgeface.vision.images import load_image, photos_under
from edgeface.vision.pick import primary_face

log = logging.getLogger(__name__)

BINS = 10
WORST = 10
"""How many of the worst-scored photos of each kind the report names."""

Job = tuple[str | None, Path]
"""(attack species, or None for bona fide; photo)."""
Planned = tuple[str | None, Path, Provenance | None]
"""A job and what the manifest says about its photo."""


@dataclass(frozen=True)
class Scored:
    path: Path
    species: str | None
    score: float | None
    """None when no face was found."""
    subject: str = ""
    source: str = ""
    """The manifest's; empty without one."""


@dataclass(frozen=True)
class LivenessReport:
    threshold: float
    samples: tuple[Scored, ...]
    ms_per_face: float | None
    manifest: Path | None = None
    half: str | None = None

    def presentations(self) -> list[rates.Sample]:
        return [p for _, p in self._shown()]

    def at(self, threshold: float) -> dict[str, object]:
        """BPCER and per-species APCER at one threshold, each with its subject-resampled interval."""
        shown = self.presentations()
        ci = rates.intervals(shown, threshold)
        return {
            "threshold": round(threshold, 4),
            "bpcer": rates.rounded(rates.bpcer(shown, threshold)),
            "bpcer_ci": ci["bpcer"],
            "apcer": rates.rounded(rates.worst_apcer(shown, threshold)),
            "apcer_ci": ci["worst"],
            "apcer_by_species": {
                name: {"apcer": rates.rounded(rates.apcer(shown, threshold, name)), "ci": ci[name]}
                for name in rates.species_of(shown)
            },
        }

    def operating_points(self) -> dict[str, dict[str, object]]:
        """For each level's BPCER target: the threshold measured here, and the rates there."""
        out: dict[str, dict[str, object]] = {}
        for level, target in LEVEL_BPCER.items():
            threshold = rates.threshold_at_bpcer(self.presentations(), target)
            if threshold is not None:
                out[level] = {"target_bpcer": target, **self.at(threshold)}
        return out

    def breakdown(self, key: Callable[[Scored], str]) -> dict[str, dict[str, float | int | None]]:
        """Counts and rates at the report's threshold per source or subject."""
        out: dict[str, dict[str, float | int | None]] = {}
        for name in sorted({key(s) for s in self.samples}):
            shown = [p for s, p in self._shown() if key(s) == name]
            bona = [p.score for p in shown if p.species is None]
            attacks = [p.score for p in shown if p.species is not None]
            out[name] = {
                "bona_fide": len(bona),
                "bpcer": _rate(sum(v < self.threshold for v in bona), len(bona)),
                "attacks": len(attacks),
                "apcer": rates.rounded(rates.worst_apcer([p for p in shown if p.species is not None], self.threshold)),
            }
        return out

    def _shown(self) -> list[tuple[Scored, rates.Sample]]:
        return [(s, rates.Sample(s.score, s.species, s.subject)) for s in self.samples if s.score is not None]

    def _scores(self, bona_fide: bool, species: str | None = None) -> list[float]:
        return [
            s.score
            for s in self.samples
            if s.score is not None and (s.species is None) == bona_fide and (species is None or s.species == species)
        ]

    @property
    def species(self) -> list[str]:
        return sorted({s.species for s in self.samples if s.species is not None})

    def apcer_by_species(self) -> dict[str, dict[str, float | int | None]]:
        out: dict[str, dict[str, float | int | None]] = {}
        for name in self.species:
            scores = self._scores(False, name)
            accepted = sum(v >= self.threshold for v in scores)
            out[name] = {"attacks": len(scores), "accepted": accepted, "apcer": _rate(accepted, len(scores))}
        return out

    def _missing(self) -> dict[str, int]:
        return {
            "bona_fide": sum(s.score is None and s.species is None for s in self.samples),
            "attack": sum(s.score is None and s.species is not None for s in self.samples),
        }

    def histogram(self) -> dict[str, list[float] | list[int]]:
        edges = np.linspace(0.0, 1.0, BINS + 1)
        return {
            "edges": [round(float(e), 2) for e in edges],
            "bona_fide": np.histogram(self._scores(True), edges)[0].tolist(),
            "attack": np.histogram(self._scores(False), edges)[0].tolist(),
        }

    def to_dict(self) -> dict[str, object]:
        bona = self._scores(True)
        refused = sum(v < self.threshold for v in bona)
        per_species = self.apcer_by_species()
        rates = [r["apcer"] for r in per_species.values() if r["apcer"] is not None]
        attacks = self._scores(False)
        lowest = sorted((s for s in self.samples if s.species is None and s.score is not None), key=_score)
        highest = sorted((s for s in self.samples if s.species is not None and s.score is not None), key=_score)
        return {
            "threshold": self.threshold,
            "bona_fide": len(bona),
            "bona_fide_refused": refused,
            "bpcer": _rate(refused, len(bona)),
            "attacks": len(attacks),
            "attacks_accepted": sum(v >= self.threshold for v in attacks),
            "apcer": max(rates) if rates else None,
            "apcer_by_species": per_species,
            "no_face": self._missing(),
            "ms_per_face": None if self.ms_per_face is None else round(self.ms_per_face, 2),
            "histogram": self.histogram(),
            "manifest": None if self.manifest is None else str(self.manifest),
            "half": self.half,
            "subjects": len({s.subject for s in self.samples}),
            "ci": {k: v for k, v in self.at(self.threshold).items() if k.endswith("_ci")},
            "by_source": self.breakdown(lambda s: s.source) if self.manifest is not None else {},
            "by_subject": self.breakdown(lambda s: s.subject),
            "operating_points": self.operating_points(),
            "levels": {name: self.at(t) for name, t in LEVEL_THRESHOLDS.items()},
            "lowest_bona_fide": [[str(s.path), round(_score(s), 4)] for s in lowest[:WORST]],
            "highest_attacks": [[str(s.path), round(_score(s), 4)] for s in highest[::-1][:WORST]],
        }

    def table(self) -> list[str]:
        """The report as text lines, with a histogram drawn in characters."""
        data = self.to_dict()
        lines = [
            f"threshold      {self.threshold:.3f}  (accept as live when score ≥ threshold)",
            f"BPCER          {_pct(data['bpcer'])}  {data['bona_fide_refused']}/{data['bona_fide']} bona fide refused",
            f"APCER          {_pct(data['apcer'])}  {data['attacks_accepted']}/{data['attacks']} attacks accepted",
        ]
        for name, row in self.apcer_by_species().items():
            lines.append(f"  {name:<12} {_pct(row['apcer'])}  {row['accepted']}/{row['attacks']}")
        missing = self._missing()
        lines.append(f"no face        {missing['bona_fide']} bona fide, {missing['attack']} attack (not presentations)")
        ms = data["ms_per_face"]
        lines.append(f"ms per face    {ms if ms is not None else '-'}")
        at = self.at(self.threshold)
        lines.append(f"95 % CI        BPCER {_ci(at['bpcer_ci'])}, worst APCER {_ci(at['apcer_ci'])}")
        lines.append(f"               over {data['subjects']} subjects resampled")
        if self.half is not None:
            lines.append(f"half           {self.half} subjects of the split only")
        lines.append("")
        lines.append("operating point     threshold  BPCER (95 % CI)          worst APCER (95 % CI)    by species")
        points = [(f"{k} here", v) for k, v in self.operating_points().items()]
        points += [(f"{k} shipped", self.at(t)) for k, t in LEVEL_THRESHOLDS.items()]
        for label, point in points:
            by = point["apcer_by_species"]
            assert isinstance(by, dict)
            species = " ".join(f"{k} {_pct(v['apcer']).strip()}" for k, v in by.items())
            lines.append(
                f"{label:<20}{point['threshold']:>8.4f}  {_pct(point['bpcer'])} {_ci(point['bpcer_ci']):<15} "
                f"{_pct(point['apcer'])} {_ci(point['apcer_ci']):<15} {species}"
            )
        if self.manifest is not None:
            lines.append("")
            lines.append(f"by source ({self.manifest})")
            lines += _breakdown_lines(self.breakdown(lambda s: s.source))
        lines.append("by subject")
        lines += _breakdown_lines(self.breakdown(lambda s: s.subject))
        hist = self.histogram()
        counts = list(zip(hist["bona_fide"], hist["attack"], strict=True))
        peak = int(max((max(c) for c in counts), default=1)) or 1
        lines.append("score         bona fide                       attack")
        for i, (b, a) in enumerate(counts):
            lo, hi = hist["edges"][i], hist["edges"][i + 1]
            lines.append(f"{lo:.1f}–{hi:.1f}  {int(b):>4} {_bar(int(b), peak):<25}  {int(a):>4} {_bar(int(a), peak)}")
        return lines


def _score(s: Scored) -> float:
    return -1.0 if s.score is None else s.score


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def _pct(value: object) -> str:
    return f"{100 * value:6.2f} %" if isinstance(value, float) else "     - "


def _ci(value: object) -> str:
    return f"[{100 * value[0]:.1f}, {100 * value[1]:.1f}] %" if isinstance(value, tuple) else "-"


def _breakdown_lines(table: dict[str, dict[str, float | int | None]]) -> list[str]:
    return [
        f"  {name:<12} BPCER {_pct(r['bpcer'])} of {r['bona_fide']:>4}   "
        f"worst APCER {_pct(r['apcer'])} of {r['attacks']:>4}"
        for name, r in table.items()
    ]


def _bar(count: int, peak: int, width: int = 25) -> str:
    return "#" * (0 if count == 0 else max(1, round(width * count / peak)))


def liveness_jobs(real: Sequence[Path], spoof: Sequence[Path]) -> list[Job]:
    """Bona fide photos from every ``real`` folder, attacks from every ``spoof`` folder (its name is the species)."""
    jobs: list[Job] = [(None, p) for folder in real for p in photos_under(folder)]
    for folder in spoof:
        jobs += [(folder.name or str(folder), p) for p in photos_under(folder)]
    if not any(s is None for s, _ in jobs) or not any(s is not None for s, _ in jobs):
        raise ConfigError("bench liveness needs photos in both the --real and the --spoof folders")
    return jobs


def run_liveness(
    detector: Detector,
    model: LivenessModel,
    real: Sequence[Path],
    spoof: Sequence[Path],
    *,
    threshold: float,
    manifest: Manifest | None = None,
    half: str | None = None,
    progress: Callable[[Iterable[Planned]], Iterable[Planned]] = lambda it: it,
) -> LivenessReport:
    """Score every photo; ``half`` (``dev`` or ``held-out``, needs a manifest) keeps that half's subjects only."""
    if half is not None and (half not in HALVES or manifest is None):
        raise ConfigError(f"--half {half} needs a manifest and one of {', '.join(HALVES)}")
    samples: list[Scored] = []
    timings: list[float] = []
    jobs = [(species, photo, _provenance(manifest, photo)) for species, photo in liveness_jobs(real, spoof)]
    if half is not None:
        jobs = [(s, p, prov) for s, p, prov in jobs if prov is not None and half_of(prov.subject) == half]
    for species, photo, prov in progress(jobs):
        subject, source = (prov.subject, prov.source) if prov is not None else (photo.parent.name, "")
        try:
            image = load_image(photo)
        except EdgefaceError as exc:
            log.warning("%s", exc)
            samples.append(Scored(photo, species, None, subject, source))
            continue
        face = primary_face(detector.detect(image), image.shape)
        if face is None:
            log.info("%s: no face found; not a presentation", photo)
            samples.append(Scored(photo, species, None, subject, source))
            continue
        start = time.perf_counter()
        score = float(model.score(image, [face])[0])
        timings.append((time.perf_counter() - start) * 1000.0)
        samples.append(Scored(photo, species, score, subject, source))
    # The first runs pay for onnxruntime's allocations; the median is what a running daemon sees.
    ms = float(np.median(timings)) if timings else None
    return LivenessReport(threshold, tuple(samples), ms, None if manifest is None else manifest.path, half)


def _provenance(manifest: Manifest | None, photo: Path) -> Provenance | None:
    if manifest is None:
        return None
    found = manifest.find(photo)
    if found is None:
        log.info("%s: not in %s; its folder is its subject", photo, manifest.path)
    return found
