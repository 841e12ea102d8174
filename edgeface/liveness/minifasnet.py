"""Passive liveness: is a matched face a live person, or a print or screen held up to the camera?

Two parts, both cheap enough for a Pi and run only on faces that matched an
enrolled person (nobody at the door costs nothing):

* a single-frame model, :class:`MiniFASNet`: the two Silent-Face MiniFASNet
  networks fused as upstream does (the mean of their softmax; class 1 is
  "real"), each on its own crop of the face with context around it;
* optionally, the temporal check of :mod:`edgeface.liveness.temporal` over the track's
  landmarks, re-measured on canonical crops (:class:`CanonicalLandmarks`).

:class:`LivenessStage` combines them into one verdict per face and frame:
live, spoof, or not yet known (the temporal check is still gathering frames).

Preprocessing is Silent-Face's ``test.py``: see :func:`crop_box`; the 80×80
patch stays **BGR** with raw 0–255 values (their ``to_tensor`` does not divide).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edgeface.config import Config
from edgeface.errors import ModelError
from edgeface.liveness.temporal import MotionHistory, MotionReport, MotionSettings, MotionVerdict, Points
from edgeface.models.runtime import RuntimeOptions, open_session
from edgeface.values import Face, Image
from edgeface.vision.align import CropSpec, align, crop_matrix
from edgeface.vision.detect import Detector

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Box = tuple[float, float, float, float]
REAL_CLASS = 1
"""Silent-Face's classes: 0 and 2 are attack types, 1 is a live face."""


@dataclass(frozen=True)
class ModelSpec:
    """One liveness network and the crop it was trained on."""

    path: Path
    sha256: str | None
    scale: float
    """The face box is scaled by this about its centre before cropping."""
    size: int = 80


def model_specs(cfg: Config) -> tuple[ModelSpec, ...]:
    """The networks ``liveness.models`` names, resolved against ``models_dir``."""
    return tuple(ModelSpec(cfg.model_path(m.model), m.sha256, m.scale) for m in cfg.liveness.models)


def crop_box(box: Box, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The crop a MiniFASNet sees: (left, top, right, bottom), inclusive pixel bounds inside the image.

    Upstream's ``_get_new_box``: the box grows by ``scale`` about its centre, but
    never beyond what fits in the image (the factor is clamped, keeping the
    aspect); a box that would cross an edge is shifted back inside, not cut, so
    the model always sees the amount of context it was trained with.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image of {width}×{height} pixels has nothing to crop")
    x, y, w, h = box
    w, h = max(w, 1e-6), max(h, 1e-6)  # a degenerate box still yields a valid (clamped) crop
    scale = min((height - 1) / h, (width - 1) / w, scale)
    new_w, new_h = w * scale, h * scale
    cx, cy = x + w / 2.0, y + h / 2.0
    left, top, right, bottom = cx - new_w / 2.0, cy - new_h / 2.0, cx + new_w / 2.0, cy + new_h / 2.0
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), float(width - 1)
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), float(height - 1)
    # Upstream truncates with int(); the clamps only absorb float rounding at the edges.
    return (
        min(max(int(left), 0), width - 1),
        min(max(int(top), 0), height - 1),
        min(max(int(right), 0), width - 1),
        min(max(int(bottom), 0), height - 1),
    )


def liveness_crop(image: Image, box: Box, scale: float, size: int = 80) -> Image:
    """The size×size BGR patch a MiniFASNet trained at ``scale`` expects for a face box."""
    height, width = image.shape[:2]
    left, top, right, bottom = crop_box(box, scale, width, height)
    patch = image[top : bottom + 1, left : right + 1]
    return np.asarray(cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR), np.uint8)


def softmax(logits: FloatArray) -> FloatArray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), np.float32)


class LivenessModel(Protocol):
    """Scores faces in a BGR image: the probability each is a live person, in [0, 1]."""

    def score(self, image: Image, faces: Sequence[Face]) -> FloatArray: ...

    def close(self) -> None: ...


class MiniFASNet:
    """Silent-Face MiniFASNet networks on onnxruntime, fused by averaging their softmax."""

    def __init__(self, sessions: Sequence[tuple[ort.InferenceSession, ModelSpec]]) -> None:
        if not sessions:
            raise ValueError("MiniFASNet needs at least one model")
        self._sessions = list(sessions)
        self._inputs = [s.get_inputs()[0].name for s, _ in sessions]

    @classmethod
    def open(cls, specs: Sequence[ModelSpec], options: RuntimeOptions) -> MiniFASNet:
        """Verify and load each model file; raises :class:`ModelError` naming the file at fault."""
        opened: list[tuple[ort.InferenceSession, ModelSpec]] = []
        for spec in specs:
            session, _ = open_session(spec.path, spec.sha256, options)
            classes = session.get_outputs()[0].shape[-1]
            if classes != 3:
                raise ModelError(f"{spec.path}: expected 3 output classes (Silent-Face), found {classes}")
            opened.append((session, spec))
        return cls(opened)

    def __enter__(self) -> MiniFASNet:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._sessions.clear()

    def probabilities(self, image: Image, faces: Sequence[Face]) -> FloatArray:
        """N×3 class probabilities, the mean over the models; each model runs once on all faces."""
        total = np.zeros((len(faces), 3), np.float32)
        if not faces:
            return total
        for (session, spec), name in zip(self._sessions, self._inputs, strict=True):
            crops = np.stack([liveness_crop(image, f.box, spec.scale, spec.size) for f in faces])
            batch = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), np.float32)  # raw 0–255 BGR, NCHW
            total += softmax(np.asarray(session.run(None, {name: batch})[0], np.float32))
        return np.asarray(total / len(self._sessions), np.float32)

    def score(self, image: Image, faces: Sequence[Face]) -> FloatArray:
        """Fused probability of the real class per face (upstream's ``prediction[1] / 2`` for two models)."""
        return np.asarray(self.probabilities(image, faces)[:, REAL_CLASS], np.float32)


class LandmarkSource(Protocol):
    """Where the temporal check gets a face's five landmarks (None: this frame is no evidence)."""

    def __call__(self, image: Image, face: Face) -> Points | None: ...


def raw_landmarks(image: Image, face: Face) -> Points:
    """The detector's landmarks as they are: noisier (see :class:`CanonicalLandmarks`); for tests of the logic."""
    return np.asarray(face.landmarks, np.float64)


class CanonicalLandmarks:
    """Landmarks re-measured on the face brought to one size and roll, averaged over a few canonical sizes.

    YuNet's landmark geometry is not equivariant: the same photo scaled from 90 to
    110 px or rolled by 20° moves its landmarks relative to each other by up to 5 %
    of the eye distance (anchor strides and training poses), as much as a live
    head does. Warping each face onto the ArcFace template first (one similarity,
    which the plane test ignores anyway) makes a flat picture look the same to
    the detector in every frame; averaging three template sizes smooths what is
    left. On the synthetic attacks the 95th percentile of the rigid residual
    drops from 0.059 to about 0.025. Cost: three detector runs on 128×128 crops.
    """

    def __init__(self, detector: Detector, size: int = 128, scales: Sequence[float] = (0.42, 0.5, 0.58)) -> None:
        self.detector = detector
        self.specs = [CropSpec("template", size, scale=s) for s in scales]

    def __call__(self, image: Image, face: Face) -> Points | None:
        found = []
        for spec in self.specs:
            matrix = crop_matrix(face, spec)
            faces = self.detector.detect(align(image, face, spec))
            centre = np.array([spec.size / 2.0, spec.size / 2.0])
            nearest = min(faces, key=lambda f: float(np.linalg.norm(np.array(f.centre) - centre)), default=None)
            if nearest is None:
                continue
            back = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))
            points = np.asarray(nearest.landmarks, np.float64)
            found.append(points @ back[:2, :2].T + back[:2, 2])
        # Missing a crop would mix sizes frame to frame, which is the very artefact this removes.
        return np.mean(found, axis=0) if len(found) == len(self.specs) else None

    def close(self) -> None:
        self.detector.close()


def verdict(score: float, threshold: float, motion: MotionReport | None) -> bool | None:
    """Live (True), spoof (False) or not known yet (None) from the model's score and the motion check."""
    if score < threshold:
        return False  # the model alone refuses: moving cannot make a print live
    if motion is None or motion.verdict is MotionVerdict.MOVING:
        return True
    return False if motion.verdict is MotionVerdict.RIGID else None


@dataclass(frozen=True)
class LivenessResult:
    """One matched face in one frame."""

    score: float
    motion: MotionReport | None
    """None when the temporal check is off."""
    live: bool | None
    """True live, False a presentation attack, None not known yet (the temporal check is pending)."""


class LivenessStage:
    """The single-frame model plus, optionally, the temporal check: one verdict per matched face.

    The temporal history is fed by :meth:`check` itself, so it holds the frames in which the track matched
    an enrolled person: the frames the decider counts.
    """

    def __init__(
        self,
        model: LivenessModel,
        threshold: float,
        motion: MotionSettings | None = None,
        landmarks: LandmarkSource = raw_landmarks,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"liveness threshold must be in [0, 1], not {threshold}")
        self.model = model
        self.threshold = threshold
        self.history = MotionHistory(motion) if motion is not None else None
        self.landmarks = landmarks

    @classmethod
    def open(
        cls,
        specs: Sequence[ModelSpec],
        options: RuntimeOptions,
        threshold: float,
        motion: MotionSettings | None,
        detector: Detector | None = None,
    ) -> LivenessStage:
        """The stage for the daemon; ``detector`` (a second one: it sees small crops) measures the landmarks."""
        try:
            model = MiniFASNet.open(specs, options)
        except Exception:
            if detector is not None:
                detector.close()  # it was handed over to this stage: nobody else will close it
            raise
        source: LandmarkSource = raw_landmarks if detector is None else CanonicalLandmarks(detector)
        return cls(model, threshold, motion, source)

    def __enter__(self) -> LivenessStage:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self.model.close()
        if isinstance(self.landmarks, CanonicalLandmarks):
            self.landmarks.close()

    def reset(self) -> None:
        """Forget the landmark history (new people, a config reload)."""
        if self.history is not None:
            self.history.reset()

    def _record(self, history: MotionHistory, ts: float, items: Sequence[tuple[int, Face]], image: Image) -> None:
        # Faces too small to use are skipped before the detector runs, not after.
        measured = [(t, f, self.landmarks(image, f)) for t, f in items if f.size >= history.settings.min_face]
        kept = [(t, replace(f, landmarks=np.asarray(p, np.float32))) for t, f, p in measured if p is not None]
        history.update(ts, [t for t, _ in kept], [f for _, f in kept])

    def check(self, image: Image, ts: float, items: Sequence[tuple[int, Face]]) -> list[LivenessResult]:
        """Verdicts for the (track, face) pairs of one frame that matched an enrolled person."""
        if not items:
            return []
        scores = self.model.score(image, [face for _, face in items])
        if self.history is not None:
            self._record(self.history, ts, items, image)
        results = []
        for (track, _), raw in zip(items, scores, strict=True):
            score = float(raw)
            motion = self.history.check(track, ts) if self.history is not None else None
            live = verdict(score, self.threshold, motion)
            log.debug("track %d: liveness %.3f, motion %s, live %s", track, score, motion, live)
            results.append(LivenessResult(score, motion, live))
        return results
