"""The recognition core wired together: image → faces → crops → vectors → matches.

This is the one place that builds the detector and embedder from the config;
the CLI, the benchmark and the daemon all recognise through it, so a photo is
prepared exactly the same way at enrolment and at the door.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from edgeface.config import Config
from edgeface.errors import ModelError
from edgeface.models.runtime import RuntimeOptions, open_session
from edgeface.values import Face, Image, Match, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.detect import Detector, DetectorSettings, YuNetDetector
from edgeface.vision.embed import Embedder, OnnxEmbedder
from edgeface.vision.match import Gallery, match
from edgeface.vision.quality import QualityGates

log = logging.getLogger(__name__)


def open_detector(cfg: Config, live: bool = False) -> YuNetDetector:
    """``live``: for camera frames, detected at ``detector.live_max_side``."""
    session, _ = open_session(
        cfg.model_path(cfg.detector.model), cfg.detector.sha256, RuntimeOptions.from_config(cfg.runtime)
    )
    return YuNetDetector(session, DetectorSettings.from_config(cfg.detector, live=live))


def load_center(path: Path) -> Vectors:
    """A mean embedding saved with numpy.save."""
    try:
        return np.asarray(np.load(path, allow_pickle=False), np.float32).reshape(-1)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot load the mean embedding ({exc})") from exc


def open_embedder(cfg: Config) -> OnnxEmbedder:
    profile = cfg.profile
    session, sha = open_session(cfg.model_path(profile.model), profile.sha256, RuntimeOptions.from_config(cfg.runtime))
    center = load_center(cfg.profile_data_path(profile.center)) if profile.center else None
    return OnnxEmbedder(session, profile, sha, center)


@dataclass(frozen=True)
class Recognition:
    face: Face
    match: Match


class Recognizer:
    """Detector + embedder + gallery, with the thresholds that turn similarities into names."""

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        *,
        threshold: float,
        margin: float = 0.0,
        gates: QualityGates | None = None,
        gallery: Gallery | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.threshold = threshold
        self.margin = margin
        self.gates = gates or QualityGates()
        self.gallery = gallery or Gallery.empty(embedder.profile.output_dim)

    @classmethod
    def from_config(cls, cfg: Config, gallery: Gallery | None = None, *, live: bool = False) -> Recognizer:
        detector = open_detector(cfg, live)
        try:
            embedder = open_embedder(cfg)
        except Exception:
            detector.close()
            raise
        return cls(
            detector,
            embedder,
            threshold=cfg.threshold,
            margin=cfg.match.margin,
            gates=QualityGates.from_config(cfg.quality),
            gallery=gallery,
        )

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self.detector.close()
        self.embedder.close()

    @property
    def model_id(self) -> tuple[str, str]:
        return self.embedder.model_id

    def detect(self, image: Image) -> list[Face]:
        """Faces large enough to recognise."""
        return [f for f in self.detector.detect(image) if f.size >= self.gates.min_face]

    def embed(self, image: Image, faces: list[Face]) -> Vectors:
        spec = CropSpec.for_profile(self.embedder.profile)
        return self.embedder.embed([align(image, f, spec) for f in faces])

    def match(self, vectors: Vectors, gallery: Gallery | None = None) -> list[Match]:
        return match(vectors, self.gallery if gallery is None else gallery, self.threshold, self.margin)

    def identify(self, image: Image) -> list[Recognition]:
        faces = self.detect(image)
        matches = self.match(self.embed(image, faces))
        return [Recognition(f, m) for f, m in zip(faces, matches, strict=True)]
