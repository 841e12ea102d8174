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
    threshold: float = Field(ge=-1.0, le=1.0, description="Suggested cosine-similarity threshold for this model.")


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

BUILTIN_PROFILES: dict[str, EmbedderProfile] = {
    p.name: p
    for p in (
        EmbedderProfile(
            name="mobilefacenet",
            model="mobilefacenet_foamliu.onnx",
            sha256=pinned_sha256("mobilefacenet_foamliu.onnx"),
            **_MOBILEFACENET,
        ),
        EmbedderProfile(
            name="mobilefacenet_int8",
            model="mobilefacenet_foamliu_int8.onnx",
            sha256=pinned_sha256("mobilefacenet_foamliu_int8.onnx"),
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
            **_FACENET,
        ),
    )
}

DEFAULT_PROFILE = "mobilefacenet_int8"
