"""The liveness stage the daemon calls: one verdict per matched face and frame.

Two parts, both cheap enough for a Pi and run only on faces that matched an
enrolled person (nobody at the door costs nothing):

* the single-frame model: the networks of :mod:`edgeface.liveness.minifasnet`, fused with the
  screen cue of :mod:`edgeface.liveness.screen` (``liveness.screen_cue``);
* optionally, the temporal check of :mod:`edgeface.liveness.temporal` over the track's
  landmarks, re-measured on canonical crops (:class:`CanonicalLandmarks`).

:class:`LivenessStage` combines them: live, spoof, or not yet known (the temporal
check is still gathering frames).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Protocol

import numpy as np

from edgeface.config import Config
from edgeface.liveness.levels import liveness_threshold
from edgeface.liveness.minifasnet import LivenessModel, MiniFASNet, ModelSpec, model_specs
from edgeface.liveness.screen import ScreenCue, ScreenFused, open_screen_cue
from edgeface.liveness.temporal import MotionHistory, MotionReport, MotionSettings, MotionVerdict, Points
from edgeface.models.runtime import RuntimeOptions
from edgeface.values import Face, Image
from edgeface.vision.align import CropSpec, align, crop_matrix
from edgeface.vision.detect import Detector
from edgeface.vision.recognize import open_detector

log = logging.getLogger(__name__)


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
        *,
        screen_cue: ScreenCue | None = None,
    ) -> LivenessStage:
        """The stage for the daemon; ``detector`` (a second one: it sees small crops) measures the landmarks."""
        try:
            networks = MiniFASNet.open(specs, options)
            model: LivenessModel = networks if screen_cue is None else ScreenFused(networks, screen_cue)
        except Exception:
            if detector is not None:
                detector.close()  # it was handed over to this stage: nobody else will close it
            raise
        source: LandmarkSource = raw_landmarks if detector is None else CanonicalLandmarks(detector)
        return cls(model, threshold, motion, source)

    @classmethod
    def from_config(cls, cfg: Config) -> LivenessStage:
        """The stage ``cfg.liveness`` describes, as the daemon and the library's ``Recognizer`` run it."""
        motion = MotionSettings.from_config(cfg.liveness.temporal)
        # The temporal check measures landmarks with a detector of its own (it sees small canonical crops).
        detector = open_detector(cfg) if motion is not None else None
        threshold = liveness_threshold(cfg.liveness)
        try:
            cue = open_screen_cue(cfg)
        except Exception:
            if detector is not None:
                detector.close()
            raise
        return cls.open(
            model_specs(cfg), RuntimeOptions.from_config(cfg.runtime), threshold, motion, detector, screen_cue=cue
        )

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

    def passes(self, image: Image, face: Face) -> bool:
        """Whether one face passes the single-frame check (enrolment's test: no track, no temporal evidence)."""
        return float(self.model.score(image, [face])[0]) >= self.threshold

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
