"""Temporal liveness: does a tracked face deform like a head, or move like a flat picture?

A printed photo or a phone screen is a plane. However it is held, tilted or
waved, the image of a plane in one frame is related to its image in another by
one homography, so its five landmarks (eyes, nose tip, mouth corners) stay
related by that transform up to detector noise. A live head is not flat: the
nose tip stands out of the plane of the eyes and mouth, so any turn of the head
moves it against the others (parallax), and speech or expression moves the
mouth corners. Neither of these fits a homography.

The measure (:func:`nonrigid_motion`) fits a least-squares homography (DLT with
Hartley normalisation) between the landmarks of every pair of frames in a
window, takes the RMS distance left over, in inter-ocular distances, and
reports the 90th percentile over the pairs. The landmarks should be measured
on canonical crops (:class:`edgeface.liveness.minifasnet.CanonicalLandmarks`): YuNet's raw
landmarks shift with face size and roll by as much as a head's parallax.
Measured that way at 15 fps, photos moved as a plane (similarity, affine and
perspective walks, noise, JPEG) stayed at or below 0.035 and the live windows
of the demo clip at or above 0.041; the default threshold sits in that gap,
which is narrow and comes from one clip (see the liveness closing note).

What this can catch: a still print or screen, held still or moved as a plane
(including tilts and perspective). What it cannot: a video replay (the face in
the video moves like a face), a 3-D mask, or a live person who holds perfectly
still (they look flat too: the check asks for motion, so it delays or refuses
them). Small faces make the landmarks noisier; faces under ``min_face`` pixels
are not used as evidence.

Everything here is pure numpy on landmark arrays; the cost is a batch of at
most 120 SVDs of 10×9 matrices per check (about 2 ms on one x86 core).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeface.config import TemporalConfig
from edgeface.values import Face

log = logging.getLogger(__name__)

Points = npt.NDArray[np.float64]
"""Landmark sets: ... × 5 × 2."""

MAX_FRAMES = 16
"""A window is subsampled evenly to at most this many frames (120 pairs, ~2 ms on an x86 core) to bound
the cost of a check; a 1.5 s window at 10–15 fps holds about that many anyway."""
PERCENTILE = 90.0
"""Of the pairwise residuals: high enough to see a head that turned once in the window, not a single glitch."""
_MAX_HISTORY = 512


@dataclass(frozen=True)
class MotionSettings:
    """When a track has moved enough, and unlike a plane, to count as a live face."""

    threshold: float = 0.038
    """Non-rigid residual (inter-ocular distances) at or above which the face is taken as live."""
    window_seconds: float = 2.0
    """Landmarks older than this (frame time) are not used."""
    min_seconds: float = 1.5
    """The window must span this long before it gives a verdict (shorter: pending)."""
    min_frames: int = 6
    """And hold at least this many usable frames."""
    min_face: float = 40.0
    """Faces smaller than this (shorter box side, px) are too noisy to use as evidence."""

    @classmethod
    def from_config(cls, section: TemporalConfig) -> MotionSettings | None:
        """The check's settings, or None when ``liveness.temporal.enabled`` is false."""
        if not section.enabled:
            return None
        return cls(section.threshold, section.window_seconds, section.min_seconds, section.min_frames, section.min_face)

    def __post_init__(self) -> None:
        if self.min_seconds > self.window_seconds:
            raise ValueError(f"min_seconds ({self.min_seconds}) cannot exceed window_seconds ({self.window_seconds})")
        if self.min_frames < 3:
            raise ValueError(f"min_frames must be at least 3, not {self.min_frames}")


class MotionVerdict(str, enum.Enum):
    MOVING = "moving"
    """The landmarks deformed in a way no plane can: consistent with a live face."""
    RIGID = "rigid"
    """The landmarks moved as one plane, or not at all: a picture, or a face held perfectly still."""
    PENDING = "pending"
    """Not enough frames or time in the window yet."""


@dataclass(frozen=True)
class MotionReport:
    verdict: MotionVerdict
    nonrigid: float | None
    """:func:`nonrigid_motion` over the window (None while pending)."""
    box_jitter: float | None
    """:func:`box_jitter` over the window: logged for diagnosis, not used in the verdict (it does not
    separate a moved photo from a face: the box is as noisy as the motion it would measure)."""
    frames: int
    seconds: float


def _normalisers(points: Points) -> Points:
    """Hartley normalisation per set: centroid to the origin, mean distance √2 (keeps the DLT well conditioned)."""
    mean = points.mean(axis=1)
    spread = np.linalg.norm(points - mean[:, None, :], axis=2).mean(axis=1)
    s = np.sqrt(2.0) / np.maximum(spread, 1e-9)
    t = np.zeros((len(points), 3, 3))
    t[:, 0, 0] = t[:, 1, 1] = s
    t[:, 0, 2], t[:, 1, 2] = -s * mean[:, 0], -s * mean[:, 1]
    t[:, 2, 2] = 1.0
    return t


def project(h: Points, points: Points) -> Points:
    """Apply P homographies (P×3×3) to P point sets (P×N×2)."""
    ones = np.ones((*points.shape[:2], 1))
    q = np.concatenate([points, ones], axis=2) @ np.swapaxes(h, 1, 2)
    w = q[..., 2:3]
    # A point sent to infinity is a degenerate fit; keep it finite so the residual is large, not NaN.
    w = np.where(np.abs(w) < 1e-12, 1e-12, w)
    return np.asarray(q[..., :2] / w, np.float64)


def fit_homographies(src: Points, dst: Points) -> Points:
    """Least-squares (algebraic) homographies taking each src set onto its dst set, batched: P×N×2 → P×3×3."""
    ts, td = _normalisers(src), _normalisers(dst)
    s, d = project(ts, src), project(td, dst)
    x, y, u, v = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    zero, one = np.zeros_like(x), np.ones_like(x)
    rows_u = np.stack([-x, -y, -one, zero, zero, zero, u * x, u * y, u], axis=-1)
    rows_v = np.stack([zero, zero, zero, -x, -y, -one, v * x, v * y, v], axis=-1)
    _, _, vt = np.linalg.svd(np.concatenate([rows_u, rows_v], axis=1))
    h = vt[:, -1, :].reshape(-1, 3, 3)
    h = np.linalg.inv(td) @ h @ ts
    scale = h[:, 2:3, 2:3]
    return np.asarray(h / np.where(np.abs(scale) < 1e-12, 1.0, scale), np.float64)


def eye_distance(points: Points) -> npt.NDArray[np.float64]:
    return np.asarray(np.maximum(np.linalg.norm(points[..., 1, :] - points[..., 0, :], axis=-1), 1e-6), np.float64)


def planar_residuals(src: Points, dst: Points) -> npt.NDArray[np.float64]:
    """RMS distance between dst and the best homography image of src, in dst's inter-ocular distances."""
    h = fit_homographies(src, dst)
    rms = np.sqrt(((project(h, src) - dst) ** 2).sum(axis=2).mean(axis=1))
    # A failed fit must not pass for a deforming face: no evidence of motion, fail secure.
    return np.asarray(np.nan_to_num(rms / eye_distance(dst), nan=0.0, posinf=0.0), np.float64)


def subsample(count: int, limit: int = MAX_FRAMES) -> npt.NDArray[np.intp]:
    """Indices of at most ``limit`` frames spread evenly over ``count``, first and last kept."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.intp))


def nonrigid_motion(landmarks: Points) -> float:
    """How far the landmarks of K frames (K×5×2) are from moving as one plane: the 90th percentile over frame
    pairs of the homography residual, in inter-ocular distances. 0 for fewer than two frames."""
    points = np.asarray(landmarks, np.float64)[subsample(len(landmarks))]
    i, j = np.triu_indices(len(points), k=1)
    if len(i) == 0:
        return 0.0
    return float(np.percentile(planar_residuals(points[i], points[j]), PERCENTILE))


def box_jitter(landmarks: Points, boxes: Points) -> float:
    """RMS spread over frames of the box (centre and size) expressed in each frame's landmark frame
    (origin at the landmark centroid, x along the eyes, unit = inter-ocular distance).

    A picture moved as a plane keeps this constant up to detector noise; a head turning moves its landmarks
    inside its box. K×5×2 landmarks and K×4 boxes (x, y, w, h).
    """
    pts = np.asarray(landmarks, np.float64)
    box = np.asarray(boxes, np.float64)
    if len(pts) < 2:
        return 0.0
    iod = eye_distance(pts)
    axis = (pts[:, 1] - pts[:, 0]) / iod[:, None]
    normal = np.stack([-axis[:, 1], axis[:, 0]], axis=1)
    offset = box[:, :2] + box[:, 2:] / 2.0 - pts.mean(axis=1)
    desc = np.stack(
        [
            (offset * axis).sum(axis=1) / iod,
            (offset * normal).sum(axis=1) / iod,
            box[:, 2] / iod,
            box[:, 3] / iod,
        ],
        axis=1,
    )
    return float(np.sqrt(desc.var(axis=0).sum()))


@dataclass(frozen=True)
class _Seen:
    ts: float
    landmarks: Points
    box: tuple[float, float, float, float]


class MotionHistory:
    """The recent landmarks of every track, and the motion verdict over them."""

    def __init__(self, settings: MotionSettings) -> None:
        self.settings = settings
        self._tracks: dict[int, deque[_Seen]] = {}
        self._last_ts: float | None = None

    def __len__(self) -> int:
        return len(self._tracks)

    def reset(self) -> None:
        self._tracks.clear()
        self._last_ts = None

    def update(self, ts: float, tracks: Sequence[int], faces: Sequence[Face]) -> None:
        """Record one frame's tracked faces (call on every frame, with every track, not only matched ones)."""
        if self._last_ts is not None and ts < self._last_ts:
            log.warning("frame time went back by %.3f s; dropping the landmark history", self._last_ts - ts)
            self._tracks.clear()
        self._last_ts = ts
        cfg = self.settings
        for track, face in zip(tracks, faces, strict=True):
            if face.size < cfg.min_face:
                continue  # too small: its landmark noise alone looks like a deforming face
            seen = _Seen(ts, np.asarray(face.landmarks, np.float64).reshape(5, 2), face.box)
            self._tracks.setdefault(track, deque(maxlen=_MAX_HISTORY)).append(seen)
        for history in self._tracks.values():
            while history and ts - history[0].ts > cfg.window_seconds:
                history.popleft()
        # Tracks gone for a whole window can never be checked again: forget them so memory stays bounded.
        self._tracks = {t: h for t, h in self._tracks.items() if h}

    def check(self, track: int, ts: float) -> MotionReport:
        """The verdict for a track at frame time ``ts``, from its frames in the last ``window_seconds``."""
        cfg = self.settings
        window = [s for s in self._tracks.get(track, ()) if 0.0 <= ts - s.ts <= cfg.window_seconds]
        seconds = window[-1].ts - window[0].ts if window else 0.0
        if len(window) < cfg.min_frames or seconds < cfg.min_seconds:
            return MotionReport(MotionVerdict.PENDING, None, None, len(window), seconds)
        landmarks = np.stack([s.landmarks for s in window])
        nonrigid = nonrigid_motion(landmarks)
        jitter = box_jitter(landmarks, np.array([s.box for s in window], np.float64))
        verdict = MotionVerdict.MOVING if nonrigid >= cfg.threshold else MotionVerdict.RIGID
        return MotionReport(verdict, nonrigid, jitter, len(window), seconds)
