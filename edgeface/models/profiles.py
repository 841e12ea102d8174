"""Model profiles: everything needed to run an embedding model correctly.

A profile says where the model file is, which SHA-256 it must have, and how
a face must be cut and normalised for it. The shipped profiles cover the
models in ``models/``; any other ONNX embedder (the seed's ``faceNet.onnx``,
SFace, an ArcFace export) plugs in through the config by naming a profile and
overriding its fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeface.models.catalogue import pinned_sha256


class ImpostorTail(BaseModel):
    """The upper tail of one embedder's impostor similarities (one probe against one template of someone else).

    A generalised Pareto tail above the score ``u`` that a fraction ``zeta`` of impostor comparisons exceed::

        P(s > t) = zeta · (1 + xi · (t − u) / sigma) ^ (−1 / xi)      for t ≥ u

    It is what lets the threshold hold a false-accept rate per attempt whatever the gallery's size
    (:mod:`edgeface.vision.threshold`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    u: float = Field(ge=-1.0, le=1.0, description="Score where the fitted tail starts.")
    zeta: float = Field(gt=0.0, lt=1.0, description="Fraction of impostor comparisons above u.")
    sigma: float = Field(gt=0.0, le=1.0, description="Scale of the tail.")
    xi: float = Field(ge=-1.0, le=1.0, description="Shape of the tail (below 0: it ends at u − sigma/xi).")
    fitted_on: str = Field("", description="Which photos the tail was measured on.")


_LFW_DEV = "lfw-dev (854 people, 2,080 strangers; LFW half A+B of the dev identities), central face, flip as profiled"


def _tail(u: float, sigma: float, xi: float) -> ImpostorTail:
    """A tail fitted above the 0.999 quantile of lfw-dev's single-template impostor scores."""
    return ImpostorTail(u=u, zeta=0.001, sigma=sigma, xi=xi, fitted_on=_LFW_DEV)


class EmbedderProfile(BaseModel):
    """How to prepare faces for one embedding model and how to read its output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Identity of the model; stored with every template.")
    model: str = Field(description="Model file, absolute or relative to models_dir.")
    sha256: str | None = Field(description="Pinned SHA-256 of the file; null loads it unverified.")
    input_size: int = Field(ge=32, le=1024, description="Side of the square input crop in pixels.")
    color: Literal["rgb", "bgr"] = Field(description="Channel order the network expects.")
    normalize: Literal["mean_std", "prewhiten"] = Field(
        description="mean_std: (x - mean) / std per channel; prewhiten: FaceNet's per-image standardisation."
    )
    mean: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description="Per-channel mean, 0–255 units.")
    std: tuple[float, float, float] = Field(default=(1.0, 1.0, 1.0), description="Per-channel std, 0–255 units.")
    crop: Literal["template", "box"] = Field(description="5-point template warp, or square box + margin.")
    crop_scale: float = Field(default=1.0, gt=0.2, le=2.0, description="template: scale of the ArcFace template.")
    crop_shift_y: float = Field(default=0.0, ge=-0.5, le=0.5, description="template: vertical shift, fraction of side.")
    crop_margin: float = Field(default=0.0, ge=0.0, le=1.0, description="box: margin per side, fraction of box side.")
    output_dim: int = Field(ge=2, le=4096, description="Length of the embedding vector.")
    flip: bool = Field(default=True, description="Average the embeddings of the crop and its mirror image.")
    center: str | None = Field(
        default=None,
        description="A .npy mean embedding (relative to models_dir) subtracted before matching, "
        "as FaceNet's --subtract_mean does.",
    )
    threshold: float = Field(
        ge=-1.0, le=1.0, description="Fixed cosine-similarity threshold, used when no impostor tail is known."
    )
    impostor_tail: ImpostorTail | None = Field(
        default=None, description="The model's impostor-score tail, for a threshold that holds a target FAR."
    )


_IMAGENET_MEAN = (123.675, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)

_MOBILEFACENET = {
    "input_size": 112,
    "color": "rgb",
    "normalize": "mean_std",
    "mean": _IMAGENET_MEAN,
    "std": _IMAGENET_STD,
    "crop": "template",
    "output_dim": 128,
    "flip": True,
    "threshold": 0.40,
}

# The 2018 CASIA model was trained with fixed standardisation ((x - 127.5) / 128), not
# prewhitening, on MTCNN boxes plus margin: a YuNet box grown 25 % in each dimension is the
# nearest crop (tar 0.91 against 0.20 for the ArcFace-template warp with prewhitening).
# Mirror averaging gains nothing for it; subtracting a mean embedding gains 4-5 points.
_FACENET = {
    "input_size": 160,
    "color": "rgb",
    "normalize": "mean_std",
    "mean": (127.5, 127.5, 127.5),
    "std": (128.0, 128.0, 128.0),
    "crop": "box",
    "crop_margin": 0.125,
    "output_dim": 512,
    "flip": False,
}

# EdgeFace (Idiap): RGB, (x − 127.5) / 127.5, the same 112×112 ArcFace-template warp, 512-d. Its scores
# run lower than MobileFaceNet's, so each fixed fallback threshold is its t(100 templates, FAR 1e-3).
# Mirror averaging gains it ≤ 0.01 TAR on lfw-dev; it is kept for the same crop-noise reduction.
_EDGEFACE = {
    "input_size": 112,
    "color": "rgb",
    "normalize": "mean_std",
    "mean": (127.5, 127.5, 127.5),
    "std": (127.5, 127.5, 127.5),
    "crop": "template",
    "output_dim": 512,
    "flip": True,
}


def _edgeface(name: str, model: str, tail: ImpostorTail, threshold: float) -> EmbedderProfile:
    return EmbedderProfile(
        name=name, model=model, sha256=pinned_sha256(model), impostor_tail=tail, threshold=threshold, **_EDGEFACE
    )


BUILTIN_PROFILES: dict[str, EmbedderProfile] = {
    p.name: p
    for p in (
        EmbedderProfile(
            name="mobilefacenet",
            model="mobilefacenet_foamliu.onnx",
            sha256=pinned_sha256("mobilefacenet_foamliu.onnx"),
            impostor_tail=_tail(0.3357, 0.03212, -0.0393),
            **_MOBILEFACENET,
        ),
        EmbedderProfile(
            name="mobilefacenet_int8",
            model="mobilefacenet_foamliu_int8.onnx",
            sha256=pinned_sha256("mobilefacenet_foamliu_int8.onnx"),
            impostor_tail=_tail(0.3361, 0.03192, -0.0383),
            **_MOBILEFACENET,
        ),
        EmbedderProfile(
            name="facenet_casia",
            model="facenet_inception_resnet_v1_casia.onnx",
            sha256=pinned_sha256("facenet_inception_resnet_v1_casia.onnx"),
            center="facenet_casia_mean.npy",
            threshold=0.49,
            **_FACENET,
        ),
        EmbedderProfile(
            name="facenet_casia_int8",
            model="facenet_inception_resnet_v1_casia_int8.onnx",
            sha256=pinned_sha256("facenet_inception_resnet_v1_casia_int8.onnx"),
            center="facenet_casia_int8_mean.npy",
            threshold=0.48,
            impostor_tail=_tail(0.4641, 0.04379, -0.0926),
            **_FACENET,
        ),
        # Non-commercial weights (see models/catalogue.py): selectable, never the default.
        _edgeface("edgeface_xs", "edgeface_xs_q_fp32.onnx", _tail(0.2580, 0.02788, 0.0116), 0.39),
        _edgeface("edgeface_xs_int8", "edgeface_xs_q_int8dyn.onnx", _tail(0.2581, 0.02778, 0.0126), 0.39),
        _edgeface("edgeface_xxs", "edgeface_xxs_q_fp32.onnx", _tail(0.2775, 0.02891, -0.0107), 0.41),
        _edgeface("edgeface_xxs_int8", "edgeface_xxs_q_int8dyn.onnx", _tail(0.2776, 0.02892, -0.0171), 0.41),
        _edgeface("edgeface_xs_gamma", "edgeface_xs_gamma_06_fp32.onnx", _tail(0.3156, 0.02990, -0.0018), 0.45),
    )
}

DEFAULT_PROFILE = "mobilefacenet_int8"
