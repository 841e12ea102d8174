"""The single-frame liveness model: is a face a live person, or a print or screen held up to the camera?

:class:`MiniFASNet` runs the two Silent-Face MiniFASNet networks, each on its own crop of the face
with context around it (class 1 is "real"), and fuses them by the **lower** real-class probability:
a face is as live as the more doubtful network says. Upstream averages the softmax; on pad-dev's
development half, at the threshold refusing 5 % of live faces, the mean accepts 33 % of replays and
the minimum 14 % (held-out half, not used to choose: 60 % and 50 %; prints stay below 1 % either way).
Normalising the crop first was measured there too and is not done: exposure (mean luminance to 128)
raises that replay APCER to 19 %, grey-world white balance to 54 %.
:mod:`edgeface.liveness.stage` combines it with the temporal check into one verdict per face.

Preprocessing is Silent-Face's ``test.py``: see :func:`crop_box`; the 80×80
patch stays **BGR** with raw 0–255 values (their ``to_tensor`` does not divide).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edgeface.config import Config
from edgeface.errors import ModelError
from edgeface.models.runtime import RuntimeOptions, open_session
from edgeface.values import Box, Face, Image

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
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

    Kept although almost no face in pad-dev leaves room for 2.7× (a 640×480 webcam
    face is ~200 px tall): padding the frame instead (replicated, reflected or black
    borders, the face centred at the full scale) was measured on all of pad-dev at the
    threshold refusing 5 % of live faces and lets through 75 % (replicate), 76 %
    (reflect) of replays against 42 % here, and 42 % of the tight LFW crops are
    refused (3 % here); black borders refuse 61 % of live faces at 0.5.
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

    def model_probabilities(self, image: Image, faces: Sequence[Face]) -> FloatArray:
        """M×N×3 class probabilities, one block per model; each model runs once on all faces."""
        out = np.zeros((len(self._sessions), len(faces), 3), np.float32)
        if not faces:
            return out
        for i, ((session, spec), name) in enumerate(zip(self._sessions, self._inputs, strict=True)):
            crops = np.stack([liveness_crop(image, f.box, spec.scale, spec.size) for f in faces])
            batch = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), np.float32)  # raw 0–255 BGR, NCHW
            out[i] = softmax(np.asarray(session.run(None, {name: batch})[0], np.float32))
        return out

    def probabilities(self, image: Image, faces: Sequence[Face]) -> FloatArray:
        """N×3 class probabilities, the mean over the models (upstream's fusion)."""
        return np.asarray(self.model_probabilities(image, faces).mean(axis=0), np.float32)

    def score(self, image: Image, faces: Sequence[Face]) -> FloatArray:
        """Fused real-class probability per face: the lowest of the models' (see the module note)."""
        return np.asarray(self.model_probabilities(image, faces)[:, :, REAL_CLASS].min(axis=0), np.float32)
