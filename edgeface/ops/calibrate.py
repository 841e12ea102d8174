"""``edgeface calibrate``: the embedder's impostor tail from the user's own photos.

Genuine pairs are two templates (or photos) of the same person, impostor pairs two different
people. The pair thresholds are the lowest similarities that at most a fraction of impostor pairs
reach; the impostor tail fitted above their 0.999 quantile (:func:`edgeface.vision.threshold.fit_tail`)
is what the daemon needs to hold ``match.target_far`` for any gallery, and ``--write-config``
writes it into the config as ``match.impostor_tail`` (a round-trip YAML edit that keeps comments).

What is scored is the user's choice and is said in the output: the photos of ``--faces``, or the
enrolled templates, or both (``--include-enrolled``). Mixing them silently moved the threshold at a
pair FAR of 0.01 % from 0.452 to 0.386 on the same folder: templates are the best views of a person,
so they add easy genuine pairs and near-duplicate impostor pairs.

The threshold the fitted tail gives is compared with the one in force (:class:`OperatingPoint`:
its FAR per attempt, and the pair FAR and TAR it has on the scored photos), and the plot is a DET
curve, FAR against FRR on log axes, with both thresholds marked (:func:`det_plot`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from edgeface.bench.accuracy import labelled_photos, probe_vector
from edgeface.bench.detplot import Curve, DetPlot, Mark, Scale, render
from edgeface.config.source import read_config_bytes
from edgeface.errors import ConfigError
from edgeface.models.profiles import ImpostorTail
from edgeface.values import Image, Vectors
from edgeface.vision.match import Gallery
from edgeface.vision.recognize import Recognizer
from edgeface.vision.scores import equal_error_rate, threshold_for_fmr
from edgeface.vision.threshold import fit_tail, predicted_far

TARGET_FARS = (0.01, 0.001, 0.0001)
SAME_THRESHOLD = 5e-4
"""Thresholds closer than this are the same for the comparison the output makes."""
CURVE_POINTS = 1000
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Calibration:
    genuine: Scores
    impostor: Scores
    thresholds: dict[float, float]
    """Target pair FAR → threshold."""
    tar: dict[float, float]
    """Target pair FAR → fraction of genuine pairs accepted at that threshold."""
    eer: float
    tail: ImpostorTail | None
    """None when there are too few impostor pairs to shape one (``tail_problem`` says why)."""
    tail_problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "genuine_pairs": len(self.genuine),
            "impostor_pairs": len(self.impostor),
            "eer": round(self.eer, 4),
            "thresholds": [
                {"far": far, "threshold": round(t, 4), "tar": round(self.tar[far], 4)}
                for far, t in self.thresholds.items()
            ],
            "impostor_tail": self.tail.model_dump() if self.tail is not None else None,
        }

    def rates(self, threshold: float) -> tuple[float, float]:
        """(pair FAR, pair FRR) at ``threshold``: impostor pairs accepted, genuine pairs refused."""
        return float((self.impostor >= threshold).mean()), float((self.genuine < threshold).mean())

    def det_points(self, points: int = CURVE_POINTS) -> list[tuple[float, float]]:
        """(FAR, FRR) from the lowest threshold to the highest, thinned to a few thousand thresholds.

        Quantiles of both score sets keep the curve's shape; the highest impostor scores are all kept,
        as they make the low-FAR end, where a door runs.
        """
        genuine, impostor = np.sort(self.genuine), np.sort(self.impostor)
        steps = np.linspace(0.0, 1.0, points)
        thresholds = np.unique(
            np.concatenate([np.quantile(genuine, steps), np.quantile(impostor, steps), impostor[-points:]])
        )
        far = 1.0 - np.searchsorted(impostor, thresholds, side="left") / len(impostor)
        frr = np.searchsorted(genuine, thresholds, side="left") / len(genuine)
        return list(zip(far.tolist(), frr.tolist(), strict=True))


Jobs = list[tuple[str, Path]]
Progress = Callable[[Jobs], Iterable[tuple[str, Path]]]
"""Wraps the photos to embed in a progress bar (the CLI's), or returns them as they are."""
UNKNOWN_LABEL = "unknown/"
"""Label prefix of a photo in ``DIR/unknown/``: each one a stranger of its own."""


@dataclass
class Scored:
    """What calibration scores: enrolled templates, the photos of a folder, or both; said in the output."""

    vectors: list[Vectors] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    templates: int = 0
    photos: int = 0
    faces: Path | None = None

    def add_gallery(self, gallery: Gallery) -> None:
        for vector, owner in zip(gallery.vectors, gallery.owners, strict=True):
            self.vectors.append(vector)
            self.labels.append(gallery.names[owner])
        self.templates += gallery.template_count

    def add_photos(self, recognizer: Recognizer, faces: Path, progress: Progress) -> None:
        """Each photo's main face: ``DIR/<person>/*`` by person, ``DIR/unknown/*`` each a stranger."""
        people, unknown = labelled_photos(faces)
        jobs = [(name, p) for name, photos in people.items() for p in photos]
        jobs += [(f"{UNKNOWN_LABEL}{p.stem}", p) for p in unknown]
        self.faces = faces
        for label, photo in progress(jobs):
            vector = probe_vector(recognizer, photo)
            if vector is not None:
                self.vectors.append(vector)
                self.labels.append(label)
                self.photos += 1

    def stacked(self) -> Vectors:
        return np.stack(self.vectors)

    def to_dict(self, store: Path) -> dict[str, object]:
        identities = set(self.labels)
        strangers = sum(label.startswith(UNKNOWN_LABEL) for label in identities)
        return {
            "enrolled_templates": self.templates,
            "store": str(store) if self.templates else None,
            "photos": self.photos,
            "faces_dir": str(self.faces) if self.faces is not None else None,
            "people": len(identities) - strangers,
            "strangers": strangers,
        }

    def describe(self, store: Path, enrolled_left_out: bool) -> str:
        """``scored: 12 enrolled template(s) in people.db and 40 photo(s) in faces/ (9 people)``."""
        data = self.to_dict(store)
        parts = [f"{self.templates} enrolled template(s) in {store}"] if self.templates else []
        if self.faces is not None:
            parts.append(f"{self.photos} photo(s) in {self.faces}")
        who = f"{data['people']} people" + (f" and {data['strangers']} strangers" if data["strangers"] else "")
        left_out = "; enrolled templates left out (--include-enrolled adds them)" if enrolled_left_out else ""
        return f"scored: {' and '.join(parts)} ({who}){left_out}"


def pair_scores(vectors: Vectors, labels: list[str]) -> tuple[Scores, Scores]:
    """Similarities of every unordered pair, split into same-person and different-person pairs."""
    sims = vectors @ vectors.T
    upper = np.triu_indices(len(labels), k=1)
    names = np.asarray(labels)
    same = names[upper[0]] == names[upper[1]]
    values = sims[upper].astype(np.float32)
    return values[same], values[~same]


def calibrate(
    vectors: Vectors, labels: list[str], fitted_on: str = "your photos", targets: tuple[float, ...] = TARGET_FARS
) -> Calibration:
    genuine, impostor = pair_scores(vectors, labels)
    if len(genuine) == 0:
        raise ConfigError("no genuine pairs: enrol at least two photos of one person (or pass --faces DIR)")
    if len(impostor) == 0:
        raise ConfigError("no impostor pairs: enrol at least two people (or pass --faces DIR with unknown/)")
    thresholds = {far: threshold_for_fmr(impostor, far) for far in targets}
    tar = {far: float((genuine >= t).mean()) for far, t in thresholds.items()}
    try:
        tail, problem = fit_tail(impostor, f"{fitted_on}: {len(impostor)} impostor pairs"), None
    except ValueError as exc:
        tail, problem = None, str(exc)
    return Calibration(genuine, impostor, thresholds, tar, equal_error_rate(genuine, impostor), tail, problem)


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold and what it does: on the scored pairs, and per attempt as the fitted tail predicts."""

    name: str
    threshold: float
    pair_far: float
    tar: float
    far_per_attempt: float | None
    """At the gallery's size, predicted by the fitted impostor tail; None without a tail."""

    @classmethod
    def at(cls, cal: Calibration, name: str, threshold: float, templates: int) -> OperatingPoint:
        far, frr = cal.rates(threshold)
        attempt = predicted_far(cal.tail, threshold, templates) if cal.tail is not None else None
        return cls(name, threshold, far, 1.0 - frr, attempt)

    def compared(self, other: OperatingPoint) -> str:
        """``looser`` (lower: accepts more), ``stricter`` or ``same`` than ``other``."""
        if abs(self.threshold - other.threshold) < SAME_THRESHOLD:
            return "same"
        return "looser" if self.threshold < other.threshold else "stricter"

    def against(self, other: OperatingPoint) -> str:
        """``looser than the threshold in force (0.452)``: what the output says of a proposal."""
        word = {"same": "the same as", "looser": "looser than", "stricter": "stricter than"}[self.compared(other)]
        return f"{word} the threshold {other.name} ({other.threshold:.4f})"

    def describe(self) -> str:
        attempt = f"FAR {self.far_per_attempt:.2g} per attempt; " if self.far_per_attempt is not None else ""
        return f"{self.name} {self.threshold:.4f}: {attempt}pair FAR {_rate_text(self.pair_far)}, TAR {self.tar:.1%}"

    def to_dict(self) -> dict[str, object]:
        attempt = self.far_per_attempt
        return {
            "threshold": round(self.threshold, 4),
            "far_per_attempt": float(f"{attempt:.3g}") if attempt is not None else None,
            "pair_far": round(self.pair_far, 6),
            "tar": round(self.tar, 4),
        }


def _rate_text(rate: float) -> str:
    return f"{100 * rate:.2g}%"


def det_plot(cal: Calibration, points: Sequence[OperatingPoint]) -> DetPlot:
    """FAR against FRR of the scored pairs on log axes, each of ``points`` marked and named with its rates."""
    marks = [
        Mark(
            f"{p.name} {p.threshold:.3f}: FAR {_rate_text(p.pair_far)}, FRR {_rate_text(1.0 - p.tar)}",
            [(p.pair_far, 1.0 - p.tar)],
        )
        for p in points
    ]
    curve = Curve(f"{len(cal.genuine)} genuine, {len(cal.impostor)} impostor pairs", cal.det_points())
    return DetPlot(
        f"DET: {len(cal.genuine)} genuine and {len(cal.impostor)} impostor pairs",
        "FAR % (impostor pairs accepted)",
        "FRR % (genuine pairs refused)",
        Scale.log_decades(1.0 / len(cal.impostor)),
        Scale.log_decades(1.0 / len(cal.genuine)),
        [curve],
        marks,
    )


def render_plot(cal: Calibration, points: Sequence[OperatingPoint], width: int = 720, height: int = 560) -> Image:
    return render(det_plot(cal, points), width, height)


def set_impostor_tail(config_text: str, tail: ImpostorTail, target_far: float) -> str:
    """The config text with ``match.impostor_tail`` and ``match.target_far`` set, comments and layout kept.

    A fixed ``match.threshold`` or ``distance_threshold`` would override the tail, so it is removed.
    """
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(config_text) if config_text.strip() else None
    except YAMLError as exc:  # duplicate keys, several documents, bad syntax: one line, nothing written
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}not a config file edgeface can rewrite ({problem})") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError("the config's top level must be a mapping of sections")
    match = data.get("match")
    if not isinstance(match, CommentedMap):
        match = CommentedMap()
        data["match"] = match
    for fixed in ("threshold", "distance_threshold"):
        match.pop(fixed, None)
    match["target_far"] = target_far
    match["impostor_tail"] = CommentedMap(tail.model_dump())
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_impostor_tail(path: Path, tail: ImpostorTail, target_far: float) -> None:
    """Set the tail in the config file at ``path`` (created if missing); ConfigError, the file untouched, if it
    is not a config file (too large, not a regular file, not UTF-8, not one YAML mapping)."""
    text = ""
    if path.exists():
        data = read_config_bytes(path)  # at most a config's size: a 10 MB file once took 115 s and 1.5 GB
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})") from None
    try:
        updated = set_impostor_tail(text, tail, target_far)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        path.write_text(updated, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the config ({exc.strerror})") from exc
