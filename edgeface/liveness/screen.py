"""The screen cue: a second opinion, aimed at phones and monitors held up to the camera, fused with MiniFASNet.

MiniFASNet stops printed photos but accepts many screen replays: a screen is bright, sharp and coloured
like a face. What a screen changes that a print does not is measured here on the face and its
surroundings in the whole frame, with OpenCV and numpy only (about 4 ms a face on one x86 core):

* colour of the face: saturation and its spread, the chroma means, blue against red, the share of
  clipped (glare) pixels, the luma spread (a screen's gamut and backlight);
* texture: the Laplacian's energy against the patch's variance, and the share of high and middle
  frequencies and the highest spectral peak of the face (a screen's pixel grid and moiré);
* surroundings: the luminance of the face and of the band around it against the whole frame (an
  emitting screen in a room), and the strongest straight horizontal or vertical edge above, below,
  left and right of the face (a phone's or a monitor's bezel);
* a screen's edge: the longest straight line around the face at any tilt (:mod:`edgeface.liveness.bezel`).

The cue (:class:`ScreenCue`) has two parts, each a logistic regression with the two MiniFASNet
log-odds among its inputs: the face part weighs the first three groups, the frame part the screen's
edge. Both are trained on bona fide faces against replays only, the frame part on whole frames only,
leave-one-source-out measured (``tools/train_liveness_cue.py``, ``edgeface bench liveness --by-source``).
:class:`ScreenFused` keeps MiniFASNet's verdict and lets the cue only veto: its score is the lower of the
MiniFASNet score and the cue's probability, so a print MiniFASNet refuses stays refused, whatever the cue
learned about screens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np
import numpy.typing as npt

from edgeface.config import Config
from edgeface.errors import ModelError
from edgeface.liveness.bezel import BEZEL_FEATURES, FrameLines, bezel_features, frame_lines
from edgeface.liveness.minifasnet import REAL_CLASS, LivenessModel, MiniFASNet, model_specs
from edgeface.models.checksums import verify_model
from edgeface.models.runtime import RuntimeOptions
from edgeface.values import Box, Face, Image

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

FEATURES = (
    "minifasnet_v2_logodds",
    "minifasnet_v1se_logodds",
    "saturation",
    "saturation_spread",
    "cr",
    "cb",
    "blue_red",
    "glare",
    "luma_spread",
    "sharpness",
    "high_frequencies",
    "middle_frequencies",
    "spectral_peak",
    "surround_luma",
    "face_luma",
    "edge_1",
    "edge_2",
    "edge_3",
    "edge_mean",
    *BEZEL_FEATURES,
)
"""The cue's inputs, in order: the two networks' log-odds of a live face, then :func:`screen_features`."""
FACE_INPUTS = FEATURES[: -len(BEZEL_FEATURES)]
"""What the face part of the cue weighs: the networks, the face's colour and texture, its surroundings."""
FRAME_INPUTS = (*FEATURES[:2], *BEZEL_FEATURES)
"""What the frame part weighs: the networks and a screen's edge around the face."""
CONTEXT_SIDE = 160
"""The whole frame is brought down to this long side before the surroundings are measured (cost, and the
same scale whatever the camera)."""
_SPECTRUM = 128
_DECIMALS = 10
_EPS = 1e-5


def _clamped(box: Box, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box scaled about its centre, cut to the image: (left, top, right, bottom), right/bottom exclusive."""
    x, y, w, h = box
    cx, cy = x + w / 2.0, y + h / 2.0
    left, top = int(max(cx - w * scale / 2.0, 0.0)), int(max(cy - h * scale / 2.0, 0.0))
    right, bottom = int(min(cx + w * scale / 2.0, width)), int(min(cy + h * scale / 2.0, height))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _colour(face: Image) -> list[float]:
    patch = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.float32)
    ycc = cv2.cvtColor(patch, cv2.COLOR_BGR2YCrCb).reshape(-1, 3).astype(np.float32)
    blue, red = float(patch[..., 0].mean()) + 1.0, float(patch[..., 2].mean()) + 1.0
    return [
        float(hsv[:, 1].mean()) / 255.0,
        float(hsv[:, 1].std()) / 255.0,
        (float(ycc[:, 1].mean()) - 128.0) / 20.0,
        (float(ycc[:, 2].mean()) - 128.0) / 20.0,
        float(np.log(blue / red)),
        float((hsv[:, 2] >= 250).mean()),
        float(ycc[:, 0].std()) / 64.0,
    ]


def _texture(gray: Image) -> list[float]:
    small = cv2.resize(gray, (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32)
    sharpness = np.log(float(cv2.Laplacian(small, cv2.CV_32F).var()) + 1.0) - np.log(float(small.var()) + 1.0)
    patch = cv2.resize(gray, (_SPECTRUM, _SPECTRUM), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    patch -= patch.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(patch * _WINDOW))) ** 2 + 1e-6
    total = float(power[_RADIUS > 0.02].sum())
    high = float(power[(_RADIUS > 0.5) & (_RADIUS <= 1.0)].sum()) / total
    middle = float(power[(_RADIUS > 0.25) & (_RADIUS <= 0.5)].sum()) / total
    band = np.log(power[(_RADIUS > 0.3) & (_RADIUS <= 0.95)])
    return [
        float(sharpness),
        float(np.log(high)),
        float(np.log(middle)),
        float(np.percentile(band, 99.9) - np.median(band)),
    ]


_WINDOW = np.outer(np.hanning(_SPECTRUM), np.hanning(_SPECTRUM)).astype(np.float32)
_GRID = np.mgrid[-_SPECTRUM // 2 : _SPECTRUM // 2, -_SPECTRUM // 2 : _SPECTRUM // 2]
_RADIUS = np.sqrt(_GRID[0] ** 2 + _GRID[1] ** 2) / (_SPECTRUM / 2)


def _surroundings(gray: Image, box: Box) -> list[float]:
    """Luminance of the face and its band against the frame; the strongest straight edge on each side."""
    height, width = gray.shape[:2]
    k = min(1.0, CONTEXT_SIDE / max(height, width))
    small = gray if k == 1.0 else cv2.resize(gray, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    h, w = small.shape[:2]
    x, y, bw, bh = (v * k for v in box)
    mean = float(small.mean()) + 1.0
    fl, ft, fr, fb = _clamped((x, y, bw, bh), 1.0, w, h)
    rl, rt, rr, rb = _clamped((x, y, bw, bh), 2.0, w, h)
    face_luma = np.log((float(small[ft:fb, fl:fr].mean()) + 1.0) / mean)
    surround_luma = np.log((float(small[rt:rb, rl:rr].mean()) + 1.0) / mean)
    gy = np.abs(cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3))
    gx = np.abs(cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3))
    magnitude = np.hypot(gx, gy)
    norm = float(np.median(magnitude) + magnitude.mean()) + 1e-3
    x0, x1 = int(max(x - bw, 0)), int(min(x + 2 * bw, w))
    y0, y1 = int(max(y - bh, 0)), int(min(y + 2 * bh, h))
    # Mean gradient along each row (above, below) or column (left, right): a bezel is one long straight line.
    sides = [
        gy[int(max(y - 2 * bh, 0)) : int(max(y, 0)), x0:x1].mean(axis=1) if y >= 1 and x1 > x0 else None,
        gy[int(min(y + 1.3 * bh, h - 1)) : int(min(y + 3 * bh, h)), x0:x1].mean(axis=1) if x1 > x0 else None,
        gx[y0:y1, int(max(x - 2 * bw, 0)) : int(max(x, 0))].mean(axis=0) if x >= 1 and y1 > y0 else None,
        gx[y0:y1, int(min(x + bw, w - 1)) : int(min(x + 3 * bw, w))].mean(axis=0) if y1 > y0 else None,
    ]
    edges = sorted((float(s.max()) / norm if s is not None and s.size else 0.0 for s in sides), reverse=True)
    return [float(surround_luma), float(face_luma), edges[0], edges[1], edges[2], float(np.mean(edges))]


def screen_features(image: Image, box: Box, gray: Image | None = None, lines: FrameLines | None = None) -> FloatArray:
    """The handcrafted part of the cue's inputs for one face (``FEATURES`` after the two log-odds);
    ``gray`` and ``lines`` are the frame's, when its other faces already made them."""
    height, width = image.shape[:2]
    left, top, right, bottom = _clamped(box, 1.0, width, height)
    face = image[top:bottom, left:right]
    gray = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8) if gray is None else gray
    lines = frame_lines(image) if lines is None else lines
    return np.asarray(
        _colour(face) + _texture(gray[top:bottom, left:right]) + _surroundings(gray, box) + bezel_features(lines, box),
        np.float32,
    )


def log_odds(real: FloatArray) -> FloatArray:
    """Log-odds of the real class, clipped so a certain network stays a finite input."""
    p = np.clip(np.asarray(real, np.float64), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(p / (1.0 - p)), np.float32)


def cue_inputs(model_probabilities: FloatArray, image: Image, faces: Sequence[Face]) -> FloatArray:
    """N × len(FEATURES): each face's MiniFASNet log-odds (M×N×3 probabilities in) and its screen features."""
    odds = log_odds(model_probabilities[:, :, REAL_CLASS]).T
    gray: Image = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    lines = frame_lines(image)
    handcrafted = np.stack([screen_features(image, f.box, gray, lines) for f in faces])
    return np.concatenate([odds, handcrafted], axis=1).astype(np.float32)


def columns(names: Sequence[str]) -> list[int]:
    """Where the named inputs are in a row of :data:`FEATURES`."""
    return [FEATURES.index(n) for n in names]


@dataclass(frozen=True)
class CuePart:
    """One logistic regression on standardised inputs (a subset of :data:`FEATURES`, by name); ``offset``
    shifts it towards "live" (positive) or "attack" (negative), chosen with the weights (training script)."""

    name: str
    features: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float
    offset: float

    def probability(self, inputs: FloatArray) -> FloatArray:
        """This part's probability that each row of ``inputs`` (all of :data:`FEATURES`) is a live face."""
        x = np.asarray(inputs, np.float64)[:, columns(self.features)]
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept + self.offset
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))), np.float32)


@dataclass(frozen=True)
class ScreenCue:
    """The cue: a face is as live as its most doubtful part says (the face part weighs the face and its
    surroundings; the frame part a screen's edge around it)."""

    parts: tuple[CuePart, ...]

    def probability(self, inputs: FloatArray) -> FloatArray:
        """The cue's probability that each row of ``inputs`` is a live face."""
        return np.asarray(np.min([p.probability(inputs) for p in self.parts], axis=0), np.float32)

    def save(self, path: Path) -> None:
        """Plain arrays, rounded so that a refit on another machine writes the same bytes."""
        arrays: dict[str, npt.NDArray[np.generic]] = {"parts": np.array([p.name for p in self.parts])}
        for p in self.parts:
            arrays |= {
                f"{p.name}.features": np.array(p.features),
                f"{p.name}.mean": np.round(p.mean, _DECIMALS),
                f"{p.name}.scale": np.round(p.scale, _DECIMALS),
                f"{p.name}.coef": np.round(p.coef, _DECIMALS),
                f"{p.name}.intercept": np.round(np.asarray(p.intercept, np.float64), _DECIMALS),
                f"{p.name}.offset": np.asarray(p.offset, np.float64),
            }
        np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as its allow_pickle flag

    @classmethod
    def load(cls, path: Path, sha256: str | None) -> ScreenCue:
        """Read (and verify) plain arrays; :class:`ModelError` names the file and what is wrong."""
        verify_model(path, sha256)
        try:
            with np.load(path, allow_pickle=False) as data:
                parts = tuple(
                    CuePart(
                        name,
                        tuple(str(n) for n in data[f"{name}.features"]),
                        np.asarray(data[f"{name}.mean"], np.float64),
                        np.asarray(data[f"{name}.scale"], np.float64),
                        np.asarray(data[f"{name}.coef"], np.float64),
                        float(data[f"{name}.intercept"]),
                        float(data[f"{name}.offset"]),
                    )
                    for name in (str(n) for n in data["parts"])
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{path}: not a screen cue ({exc})") from exc
        for p in parts:
            size = (len(p.features),)
            if not set(p.features) <= set(FEATURES) or not p.mean.shape == p.scale.shape == p.coef.shape == size:
                raise ModelError(
                    f"{path}: the cue's {p.name} part was fitted on features this version does not compute"
                )
        if not parts:
            raise ModelError(f"{path}: not a screen cue (no parts)")
        return cls(parts)


def open_screen_cue(cfg: Config) -> ScreenCue | None:
    """The cue ``liveness.screen_cue`` names, or None when it is null."""
    section = cfg.liveness.screen_cue
    return None if section is None else ScreenCue.load(cfg.model_path(section.model), section.sha256)


def open_liveness_model(cfg: Config, options: RuntimeOptions) -> LivenessModel:
    """The single-frame model the config describes: the networks, fused with the screen cue unless it is off."""
    cue = open_screen_cue(cfg)
    networks = MiniFASNet.open(model_specs(cfg), options)
    return networks if cue is None else ScreenFused(networks, cue)


class ScreenFused:
    """MiniFASNet with the screen cue: a face is as live as the more doubtful of the two says."""

    def __init__(self, networks: MiniFASNet, cue: ScreenCue) -> None:
        self.networks = networks
        self.cue = cue

    def __enter__(self) -> ScreenFused:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self.networks.close()

    def score(self, image: Image, faces: Sequence[Face]) -> FloatArray:
        if not faces:
            return np.zeros(0, np.float32)
        probabilities = self.networks.model_probabilities(image, faces)
        networks = probabilities[:, :, REAL_CLASS].min(axis=0)
        return np.asarray(
            np.minimum(networks, self.cue.probability(cue_inputs(probabilities, image, faces))), np.float32
        )
