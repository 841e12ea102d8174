"""``edgeface calibrate``: the match threshold from data instead of by guesswork.

Genuine pairs are two templates (or photos) of the same person, impostor
pairs two different people. The threshold for a target false-accept rate is
the lowest similarity that at most that fraction of impostor pairs reach.
The plot is drawn with OpenCV, so no plotting library is needed on a Pi.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edgeface.errors import ConfigError
from edgeface.values import Image, Vectors
from edgeface.vision.scores import equal_error_rate, threshold_for_fmr

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

    def to_dict(self) -> dict[str, object]:
        return {
            "genuine_pairs": len(self.genuine),
            "impostor_pairs": len(self.impostor),
            "eer": round(self.eer, 4),
            "thresholds": [
                {"far": far, "threshold": round(t, 4), "tar": round(self.tar[far], 4)}
                for far, t in self.thresholds.items()
            ],
        }


def pair_scores(vectors: Vectors, labels: list[str]) -> tuple[Scores, Scores]:
    """Similarities of every unordered pair, split into same-person and different-person pairs."""
    sims = vectors @ vectors.T
    upper = np.triu_indices(len(labels), k=1)
    names = np.asarray(labels)
    same = names[upper[0]] == names[upper[1]]
    values = sims[upper].astype(np.float32)
    return values[same], values[~same]


def calibrate(vectors: Vectors, labels: list[str], targets: tuple[float, ...] = TARGET_FARS) -> Calibration:
    genuine, impostor = pair_scores(vectors, labels)
    if len(genuine) == 0:
        raise ConfigError("no genuine pairs: enrol at least two photos of one person (or pass --faces DIR)")
    if len(impostor) == 0:
        raise ConfigError("no impostor pairs: enrol at least two people (or pass --faces DIR with unknown/)")
    thresholds = {far: threshold_for_fmr(impostor, far) for far in targets}
    tar = {far: float((genuine >= t).mean()) for far, t in thresholds.items()}
    return Calibration(genuine, impostor, thresholds, tar, equal_error_rate(genuine, impostor))


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


_MATCH_BLOCK = re.compile(r"^match:[ \t]*(#.*)?$", re.MULTILINE)
_THRESHOLD_VALUE = re.compile(r"^([ \t]+threshold:[ \t]*)([^\s#]+)", re.MULTILINE)
_DISTANCE_VALUE = re.compile(r"^([ \t]+distance_threshold:[ \t]*)([^\s#]+)", re.MULTILINE)


def set_threshold(config_text: str, threshold: float) -> str:
    """The config text with ``match.threshold`` set, comments and layout kept."""
    value = f"{threshold:.4f}"
    block = _MATCH_BLOCK.search(config_text)
    if block is None:
        return config_text.rstrip("\n") + f"\n\nmatch:\n  threshold: {value}\n"
    body_start = block.end()
    next_section = re.search(r"^\S", config_text[body_start + 1 :], re.MULTILINE)
    body_end = body_start + 1 + next_section.start() if next_section else len(config_text)
    body = config_text[body_start:body_end]
    if _THRESHOLD_VALUE.search(body):
        body = _THRESHOLD_VALUE.sub(lambda m: m.group(1) + value, body, count=1)
    else:
        body = f"\n  threshold: {value}" + body
    # distance_threshold and threshold exclude each other: the calibrated one wins.
    body = _DISTANCE_VALUE.sub(lambda m: m.group(1) + "null", body, count=1)
    return config_text[:body_start] + body + config_text[body_end:]


def write_threshold(path: Path, threshold: float) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(set_threshold(text, threshold), encoding="utf-8")
