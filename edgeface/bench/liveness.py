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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeface.errors import ConfigError, EdgefaceError
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


@dataclass(frozen=True)
class Scored:
    path: Path
    species: str | None
    score: float | None
    """None when no face was found."""


@dataclass(frozen=True)
class LivenessReport:
    threshold: float
    samples: tuple[Scored, ...]
    ms_per_face: float | None

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
    progress: Callable[[Iterable[Job]], Iterable[Job]] = lambda it: it,
) -> LivenessReport:
    samples: list[Scored] = []
    timings: list[float] = []
    for species, photo in progress(liveness_jobs(real, spoof)):
        try:
            image = load_image(photo)
        except EdgefaceError as exc:
            log.warning("%s", exc)
            samples.append(Scored(photo, species, None))
            continue
        face = primary_face(detector.detect(image), image.shape)
        if face is None:
            log.info("%s: no face found; not a presentation", photo)
            samples.append(Scored(photo, species, None))
            continue
        start = time.perf_counter()
        score = float(model.score(image, [face])[0])
        timings.append((time.perf_counter() - start) * 1000.0)
        samples.append(Scored(photo, species, score))
    # The first runs pay for onnxruntime's allocations; the median is what a running daemon sees.
    ms = float(np.median(timings)) if timings else None
    return LivenessReport(threshold, tuple(samples), ms)
