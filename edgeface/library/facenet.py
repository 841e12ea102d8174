"""``edgeface.FaceNet``: the founding document's class, on the door's pipeline.

    fn = FaceNet(anchors="faces")           # faces/<name>/*.jpg, or a dict name → embedding(s)
    frame = fn(frame)                       # boxes and names drawn, in `color` and `thickness`
    for face in fn.recognise(frame): ...    # .name (None: a stranger), .similarity, .box (x, y, w, h)

Every argument keeps the founding document's name and meaning; ``None`` means edgeface's default:
YuNet as the detector, the default embedder profile, and a threshold that holds the profile's
false-accept rate (``match.target_far``) for as many people as the anchors hold. Frames are BGR
arrays (OpenCV's order), as ``cv2.imread`` and ``cv2.VideoCapture`` give them.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from types import TracebackType
from typing import TypeAlias

import numpy as np
import onnxruntime as ort

from edgeface.config import Config, DetectorConfig, EmbedderConfig, MatchConfig, RuntimeConfig
from edgeface.errors import ConfigError, ModelError
from edgeface.library.anchors import Anchors, gallery_from
from edgeface.library.results import Recognition
from edgeface.models.catalogue import CATALOGUE_BY_SHA
from edgeface.models.checksums import file_sha256
from edgeface.models.profiles import BUILTIN_PROFILES
from edgeface.values import Frame, Image, Vectors
from edgeface.vision.annotate import Seen, draw
from edgeface.vision.detect import Detector
from edgeface.vision.pipeline import FaceOutcome, FramePipeline
from edgeface.vision.quality import QualityGates
from edgeface.vision.recognize import MatchSettings, Recognizer, open_detector, open_embedder

log = logging.getLogger(__name__)

ModelPath: TypeAlias = "str | os.PathLike[str]"


class FaceNet:
    """Recognise the anchors' people in frames and photos; a context manager (:meth:`close`)."""

    def __init__(  # noqa: PLR0917 (the founding document's signature, positional arguments included)
        self,
        detector: Detector | ModelPath | None = None,
        onnx_model_path: ModelPath | None = None,
        anchors: Anchors = "faces",
        force_cpu: bool = False,
        threshold: float | None = None,
        color: tuple[int, int, int] = (255, 255, 255),
        thickness: int = 2,
    ) -> None:
        """
        Args:
            detector: a YuNet ONNX file, or any object with ``detect(image) -> list[Face]`` and ``close()``
                (closed with the FaceNet); None: the bundled YuNet.
            onnx_model_path: an embedder ONNX file edgeface knows (by its SHA-256, whatever its name, such as
                the founding document's ``faceNet.onnx``); None: the default embedder.
            anchors: a folder of photos (``<name>/*.jpg`` or flat ``<name>.jpg``) or a dict name → embedding(s).
            force_cpu: run on the CPU even where onnxruntime has an accelerator.
            threshold: a fixed cosine similarity to accept a match; None: the one that holds the
                embedder's false-accept rate per attempt for this many people.
            color, thickness: of the boxes and labels ``fn(frame)`` draws (BGR, pixels).
        """
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold={threshold}: a cosine similarity, from -1 to 1")
        if thickness < 1:
            raise ConfigError(f"thickness={thickness}: at least 1 pixel")
        cfg = _config(detector, onnx_model_path, force_cpu, threshold)
        opened = open_detector(cfg) if detector is None or isinstance(detector, (str, os.PathLike)) else detector
        try:
            embedder = open_embedder(cfg)
        except Exception:
            opened.close()
            raise
        self._recognizer = Recognizer(
            opened, embedder, matching=MatchSettings.from_config(cfg), gates=QualityGates.from_config(cfg.quality)
        )
        try:
            self._recognizer.gallery = gallery_from(anchors, self._recognizer)
        except Exception:
            self._recognizer.close()
            raise
        self._pipeline = FramePipeline(self._recognizer)
        self._frames = 0
        self.color = color
        self.thickness = thickness

    @property
    def names(self) -> tuple[str, ...]:
        """The people the anchors hold."""
        return self._recognizer.gallery.names

    @property
    def threshold(self) -> float:
        """The cosine similarity a face must reach to be named."""
        return self._recognizer.threshold

    def recognise(self, frame: Image) -> list[Recognition]:
        """Every face in the frame with who it is, in the detector's order."""
        return [Recognition.from_outcome(o) for o in self._process(frame)]

    def __call__(self, frame: Image) -> Image:
        """A copy of the frame with every face boxed and labelled (name and similarity, or ``unknown``)."""
        seen = [Seen.of(outcome) for outcome in self._process(frame)]
        return draw(frame, seen, colour=self.color, thickness=self.thickness)

    def _process(self, frame: Image) -> list[FaceOutcome]:
        self._frames += 1
        return self._pipeline.process(Frame(frame, time.time(), self._frames))

    def encode(self, image: Image) -> Vectors:
        """The embeddings (L2-normalised rows, in the detector's order) of the faces in ``image`` that pass
        the door's quality gates; no rows when there are none. A dict of these is a valid ``anchors``."""
        rows = [r.embedding for r in self.recognise(image) if r.embedding is not None]
        dim = self._recognizer.embedder.profile.output_dim
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)

    def close(self) -> None:
        self._recognizer.close()

    def __enter__(self) -> FaceNet:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()


def _config(
    detector: Detector | ModelPath | None, model: ModelPath | None, force_cpu: bool, threshold: float | None
) -> Config:
    """The config the founding document's arguments stand for."""
    providers = ["CPUExecutionProvider"] if force_cpu else ort.get_available_providers()
    sections: dict[str, object] = {"runtime": RuntimeConfig(providers=providers)}
    if isinstance(detector, (str, os.PathLike)):
        path = Path(os.fspath(detector)).resolve()
        known = CATALOGUE_BY_SHA.get(file_sha256(path))
        sections["detector"] = DetectorConfig(model=str(path), sha256=known.sha256 if known else None)
    if model is not None:
        sections["embedder"] = _embedder(Path(os.fspath(model)).resolve())
    if threshold is not None:
        sections["match"] = MatchConfig(threshold=threshold)
    return Config.model_validate(sections)


def _embedder(path: Path) -> EmbedderConfig:
    """The profile of a known embedder file, found by its content so that a renamed copy still fits."""
    sha = file_sha256(path)
    entry = CATALOGUE_BY_SHA.get(sha)
    profile = next((p for p in BUILTIN_PROFILES.values() if entry is not None and p.model == entry.name), None)
    if profile is None:
        known = ", ".join(sorted({p.model for p in BUILTIN_PROFILES.values()}))
        raise ModelError(f"{path}: not an embedder edgeface knows (SHA-256 {sha[:16]}…); known files: {known}")
    log.info("%s is %s: embedder profile %s", path, profile.model, profile.name)
    return EmbedderConfig(profile=profile.name, model=str(path), sha256=sha)
