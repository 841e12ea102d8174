"""``edgeface calibrate``: the embedder's impostor tail from the user's own photos.

Genuine pairs are two templates (or photos) of the same person, impostor pairs two different
people. The pair thresholds are the lowest similarities that at most a fraction of impostor pairs
reach; the impostor tail fitted above their 0.999 quantile (:func:`edgeface.vision.threshold.fit_tail`)
is what the daemon needs to hold ``match.target_far`` for any gallery, and ``--write-config``
writes it into the config as ``match.impostor_tail`` (a round-trip YAML edit that keeps comments).
The plot is drawn with OpenCV, so no plotting library is needed on a Pi.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from edgeface.errors import ConfigError
from edgeface.models.profiles import ImpostorTail
from edgeface.values import Image, Vectors
from edgeface.vision.scores import equal_error_rate, threshold_for_fmr
from edgeface.vision.threshold import fit_tail

TARGET_FARS = (0.01, 0.001, 0.0001)
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


def render_plot(cal: Calibration, width: int = 800, height: int = 400) -> Image:
    """Histograms of genuine (green) and impostor (red) similarities, with the thresholds as lines."""
    canvas = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 50, width - 20, 30, height - 40
    bins = np.linspace(-1.0, 1.0, 81)
    plot_w, plot_h = right - left, bottom - top

    def x_of(value: float) -> int:
        return int(left + (value + 1.0) / 2.0 * plot_w)

    for scores, colour in ((cal.impostor, (60, 60, 220)), (cal.genuine, (60, 170, 60))):
        counts, _ = np.histogram(scores, bins)
        share = counts / max(1, counts.sum())
        peak = max(share.max(), 1e-9)
        for (lo, hi), value in zip(itertools.pairwise(bins), share, strict=True):
            bar = int(value / peak * plot_h)
            if bar:
                cv2.rectangle(canvas, (x_of(lo), bottom - bar), (x_of(hi) - 1, bottom), colour, 1)
    cv2.line(canvas, (left, bottom), (right, bottom), (0, 0, 0), 1)
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        cv2.putText(canvas, f"{tick:.1f}", (x_of(tick) - 12, bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for far, threshold in cal.thresholds.items():
        x = x_of(threshold)
        cv2.line(canvas, (x, top), (x, bottom), (200, 120, 0), 1)
        cv2.putText(canvas, f"FAR {far:g}", (x + 3, top + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (200, 120, 0), 1)
    title = "cosine similarity: genuine (green) vs impostor (red)"
    cv2.putText(canvas, title, (left, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    return canvas


def set_impostor_tail(config_text: str, tail: ImpostorTail, target_far: float) -> str:
    """The config text with ``match.impostor_tail`` and ``match.target_far`` set, comments and layout kept.

    A fixed ``match.threshold`` or ``distance_threshold`` would override the tail, so it is removed.
    """
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(config_text) if config_text.strip() else None
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
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(set_impostor_tail(text, tail, target_far), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the config ({exc.strerror})") from exc
