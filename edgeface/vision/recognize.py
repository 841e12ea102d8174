"""The recognition core wired together: image → faces → crops → vectors → matches.

This is the one place that builds the detector and embedder from the config;
enrolment, the benchmarks and the frame pipeline (:mod:`edgeface.vision.pipeline`: the door,
``identify``, ``inspect``) all recognise through it, so a photo is prepared exactly the same way
at enrolment and at the door.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from edgeface.config import Config
from edgeface.errors import ModelError
from edgeface.models.catalogue import CATALOGUE_BY_SHA
from edgeface.models.runtime import RuntimeOptions, open_session
from edgeface.values import Face, Image, Match, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.detect import Detector, DetectorSettings, YuNetDetector
from edgeface.vision.embed import Embedder, OnnxEmbedder
from edgeface.vision.match import Gallery, match
from edgeface.vision.quality import QualityGates
from edgeface.vision.threshold import Threshold, ThresholdPolicy

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
    path = cfg.model_path(profile.model)
    session, sha = open_session(path, profile.sha256, RuntimeOptions.from_config(cfg.runtime))
    entry = CATALOGUE_BY_SHA.get(sha)
    if entry is not None and entry.noncommercial:
        # Said at every load, so nobody runs non-commercial weights at a commercial door without being told.
        log.warning(
            "embedder %s (%s): NON-COMMERCIAL weights, %s; see %s beside the model",
            profile.name,
            path.name,
            entry.licence,
            entry.licence_file,
        )
    else:
        log.info("embedder %s loaded from %s", profile.name, path)
    center = load_center(cfg.profile_data_path(profile.center)) if profile.center else None
    return OnnxEmbedder(session, profile, sha, center)


@dataclass(frozen=True)
class MatchSettings:
    """How similarities become names: the threshold policy, how several templates score, the margin."""

    policy: ThresholdPolicy
    score: Literal["centroid", "max"] = "centroid"
    margin: float = 0.0

    @classmethod
    def from_config(cls, cfg: Config) -> MatchSettings:
        return cls(ThresholdPolicy.from_config(cfg), cfg.match.score, cfg.match.margin)

    @classmethod
    def fixed(cls, threshold: float) -> MatchSettings:
        """A fixed threshold (benchmarks, tests)."""
        return cls(ThresholdPolicy(1.0, None, "", threshold, "fixed"), "max")


class Recognizer:
    """Detector + embedder + gallery, with the threshold that turns similarities into names.

    The threshold follows the gallery: assigning :attr:`gallery` or :attr:`matching` recomputes it.
    """

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        *,
        matching: MatchSettings,
        gates: QualityGates | None = None,
        gallery: Gallery | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.gates = gates or QualityGates()
        self._matching = matching
        self._enrolled = gallery or Gallery.empty(embedder.profile.output_dim)
        self._scored = self._enrolled
        self._threshold = matching.policy.for_gallery(0)
        self._rescore()

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
            matching=MatchSettings.from_config(cfg),
            gates=QualityGates.from_config(cfg.quality),
            gallery=gallery,
        )

    @property
    def gallery(self) -> Gallery:
        """The enrolled templates as the store holds them."""
        return self._enrolled

    @gallery.setter
    def gallery(self, gallery: Gallery) -> None:
        self._enrolled = gallery
        self._rescore()

    @property
    def matching(self) -> MatchSettings:
        return self._matching

    @matching.setter
    def matching(self, matching: MatchSettings) -> None:
        self._matching = matching
        self._rescore()

    @property
    def threshold(self) -> float:
        return self._threshold.value

    @property
    def threshold_info(self) -> Threshold:
        """The threshold in force, the FAR it targets and where it comes from."""
        return self._threshold

    def scored(self, gallery: Gallery) -> Gallery:
        """``gallery`` in the form probes are scored against (centroids, or every template)."""
        return gallery.centroids() if self._matching.score == "centroid" else gallery

    def _rescore(self) -> None:
        self._scored = self.scored(self._enrolled)
        self._threshold = self._matching.policy.for_gallery(self._enrolled.template_count)

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
        return self.large_enough(self.detector.detect(image))

    def large_enough(self, faces: list[Face]) -> list[Face]:
        """The faces not smaller than ``quality.min_face`` (the live page still draws the others)."""
        return [f for f in faces if self.gates.large_enough(f)]

    def embed(self, image: Image, faces: list[Face]) -> Vectors:
        spec = CropSpec.for_profile(self.embedder.profile)
        return self.embedder.embed([align(image, f, spec) for f in faces])

    def match(self, vectors: Vectors) -> list[Match]:
        return match(vectors, self._scored, self.threshold, self._matching.margin)
