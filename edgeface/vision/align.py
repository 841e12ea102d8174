"""Alignment: a face in a frame → the canonical crop an embedder was trained on.

Two conventions exist among the shipped models: a 5-point similarity warp onto
a landmark template (ArcFace-style models), and a square box-plus-margin crop
(FaceNet as trained on MTCNN boxes). Both are pure functions of the image and
the face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from edgeface.models.profiles import EmbedderProfile
from edgeface.values import Face, Image

# The standard ArcFace template for a 112×112 crop (the five landmarks in the
# same order as YuNet emits them).
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CropSpec:
    """How to cut the embedder's input out of a frame."""

    kind: Literal["template", "box"]
    size: int
    """Output side in pixels (the crop is square)."""
    scale: float = 1.0
    """template: the ArcFace template is scaled by size/112·scale about the crop centre
    (below 1 leaves more context around the face)."""
    shift_y: float = 0.0
    """template: vertical shift of the template as a fraction of the crop side."""
    margin: float = 0.0
    """box: margin added on each side, as a fraction of the box's width and height."""

    @classmethod
    def for_profile(cls, profile: EmbedderProfile) -> CropSpec:
        """The crop an embedder profile's model was trained on."""
        return cls(
            kind=profile.crop,
            size=profile.input_size,
            scale=profile.crop_scale,
            shift_y=profile.crop_shift_y,
            margin=profile.crop_margin,
        )


def template_points(spec: CropSpec) -> npt.NDArray[np.float32]:
    """The five template landmarks for a crop of spec.size pixels."""
    centre = 56.0
    out = (ARCFACE_112 - centre) * (spec.size / 112.0) * spec.scale + spec.size / 2.0
    out[:, 1] += spec.shift_y * spec.size
    return out.astype(np.float32)


def similarity_matrix(landmarks: npt.NDArray[np.float32], template: npt.NDArray[np.float32]) -> Matrix:
    """Least-squares similarity transform (rotation, uniform scale, shift) taking landmarks onto the template.

    Umeyama's closed form over all five points. Robust estimators (LMEDS,
    RANSAC) fit a subset and drop "outliers" among only five points, which
    shifts the crop and costs measurable accuracy.
    """
    src = np.asarray(landmarks, np.float64)
    dst = np.asarray(template, np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    variance = float((src_c**2).sum()) / len(src)
    if variance < 1e-12:  # all points equal: nothing to rotate or scale, only shift
        shift = dst_mean - src_mean
        return np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    u, singular, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    reflect = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a mirror image is not a similarity
        reflect[1, 1] = -1.0
    rotation = u @ reflect @ vt
    scale = float((singular * np.diag(reflect)).sum()) / variance
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def box_matrix(face: Face, spec: CropSpec) -> Matrix:
    """Scale-and-shift transform taking the face box plus margin to the square crop.

    The box keeps its own aspect and is squashed to the square, as FaceNet's
    training crops (MTCNN box + margin, resized) were.
    """
    x, y, w, h = face.box
    grow = 1.0 + 2.0 * spec.margin
    cx, cy = x + w / 2.0, y + h / 2.0
    kx, ky = spec.size / (w * grow), spec.size / (h * grow)
    return np.array([[kx, 0.0, spec.size / 2.0 - kx * cx], [0.0, ky, spec.size / 2.0 - ky * cy]])


def crop_matrix(face: Face, spec: CropSpec) -> Matrix:
    if spec.kind == "template":
        return similarity_matrix(face.landmarks, template_points(spec))
    return box_matrix(face, spec)


def align(image: Image, face: Face, spec: CropSpec) -> Image:
    """Warp the face into a spec.size × spec.size BGR crop (black beyond the image's edge)."""
    matrix = crop_matrix(face, spec)
    crop = cv2.warpAffine(image, matrix, (spec.size, spec.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return np.asarray(crop, dtype=np.uint8)
