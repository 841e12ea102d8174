"""Face detection: frame → faces (box, score, 5 landmarks).

The default backend is YuNet run by onnxruntime. The decoding is a pure
function of the network outputs, so it is tested on its own; the detector
object only owns the session and reusable buffers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edgeface.config import DetectorConfig
from edgeface.values import Face, Image

log = logging.getLogger(__name__)

_STRIDES = (8, 16, 32)
FloatArray = npt.NDArray[np.float32]


class Detector(Protocol):
    """Finds faces in a BGR image; boxes and landmarks are in that image's pixels."""

    def detect(self, image: Image) -> list[Face]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DetectorSettings:
    score_threshold: float = 0.7
    nms_threshold: float = 0.3
    max_side: int = 640
    """Images whose longer side exceeds this are downscaled before detection
    (YuNet is trained on faces of roughly 10–300 px)."""
    top_k: int = 50

    @classmethod
    def from_config(cls, section: DetectorConfig, *, live: bool = False) -> DetectorSettings:
        """``live``: for camera frames, detected at ``detector.live_max_side`` (photos keep ``max_side``)."""
        side = section.live_max_side if live and section.live_max_side is not None else section.max_side
        return cls(section.score_threshold, section.nms_threshold, side)


@dataclass(frozen=True)
class Detections:
    """Raw detections as arrays: boxes N×4 (x, y, w, h), scores N, landmarks N×5×2."""

    boxes: FloatArray
    scores: FloatArray
    landmarks: FloatArray

    def __len__(self) -> int:
        return len(self.scores)


def _grid(height: int, width: int, stride: int) -> tuple[FloatArray, FloatArray]:
    rows, cols = height // stride, width // stride
    cc, rr = np.meshgrid(np.arange(cols, dtype=np.float32), np.arange(rows, dtype=np.float32))
    return cc.reshape(-1), rr.reshape(-1)


def decode_yunet(outputs: dict[str, FloatArray], height: int, width: int, score_threshold: float) -> Detections:
    """Decode YuNet's 12 output tensors for a padded input of height×width.

    Follows the decoding documented for the model: score = sqrt(cls·obj),
    centre = (cell + offset)·stride, size = exp(log-size)·stride.
    """
    boxes, scores, marks = [], [], []
    for stride in _STRIDES:
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= score_threshold)
        if keep.size == 0:
            continue
        cols, rows = _grid(height, width, stride)
        cols, rows = cols[keep], rows[keep]
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[keep]
        cx = (cols + bbox[:, 0]) * stride
        cy = (rows + bbox[:, 1]) * stride
        w = np.exp(bbox[:, 2]) * stride
        h = np.exp(bbox[:, 3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        scores.append(score[keep])
        marks.append((kps + np.stack([cols, rows], axis=1)[:, None, :]) * stride)
    if not scores:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
    return Detections(
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(marks).astype(np.float32),
    )


def non_max_suppression(dets: Detections, score_threshold: float, iou_threshold: float, top_k: int) -> Detections:
    """Keep the best-scoring box of each overlapping group, at most top_k."""
    if len(dets) == 0:
        return dets
    keep = cv2.dnn.NMSBoxes(dets.boxes.tolist(), dets.scores.tolist(), score_threshold, iou_threshold, top_k=top_k)
    idx = np.asarray(keep, dtype=np.int64).reshape(-1)
    return Detections(dets.boxes[idx], dets.scores[idx], dets.landmarks[idx])


class YuNetDetector:
    """YuNet (dynamic input size) on onnxruntime."""

    def __init__(self, session: ort.InferenceSession, settings: DetectorSettings) -> None:
        self._session = session
        self._settings = settings
        self._input = session.get_inputs()[0].name
        self._names = [o.name for o in session.get_outputs()]
        self._buffer: FloatArray | None = None
        self._filled: tuple[int, int] = (0, 0)

    @property
    def settings(self) -> DetectorSettings:
        return self._settings

    def _prepare(self, image: Image) -> tuple[FloatArray, float]:
        h, w = image.shape[:2]
        scale = min(1.0, self._settings.max_side / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        sh, sw = image.shape[:2]
        ph, pw = -(-sh // 32) * 32, -(-sw // 32) * 32
        # A camera delivers frames of one size, so the padded input buffer is reused frame after frame:
        # its padding is zeroed once, when it is made, and only the image area is written per frame.
        if self._buffer is None or self._buffer.shape[2:] != (ph, pw) or self._filled != (sh, sw):
            self._buffer = np.zeros((1, 3, ph, pw), np.float32)
            self._filled = (sh, sw)
        # Plane by plane from cv2.split is about twice as fast as numpy's strided HWC → CHW copy.
        for channel, plane in enumerate(cv2.split(image)):
            self._buffer[0, channel, :sh, :sw] = plane
        return self._buffer, scale

    def detect(self, image: Image) -> list[Face]:
        tensor, scale = self._prepare(image)
        ph, pw = tensor.shape[2:]
        raw = self._session.run(self._names, {self._input: tensor})
        outputs = dict(zip(self._names, raw, strict=True))
        s = self._settings
        dets = non_max_suppression(
            decode_yunet(outputs, ph, pw, s.score_threshold), s.score_threshold, s.nms_threshold, s.top_k
        )
        inv = 1.0 / scale
        return [
            Face(
                box=(float(b[0] * inv), float(b[1] * inv), float(b[2] * inv), float(b[3] * inv)),
                score=float(sc),
                landmarks=(lm * inv).astype(np.float32),
            )
            for b, sc, lm in zip(dets.boxes, dets.scores, dets.landmarks, strict=True)
        ]

    def close(self) -> None:
        self._buffer = None
