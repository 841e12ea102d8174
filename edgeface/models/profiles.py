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

from edgeface.vision.align import CropSpec


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

    @property
    def crop_spec(self) -> CropSpec:
        return CropSpec(
            kind=self.crop,
            size=self.input_size,
            scale=self.crop_scale,
            shift_y=self.crop_shift_y,
            margin=self.crop_margin,
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

BUILTIN_PROFILES: dict[str, EmbedderProfile] = {
    p.name: p
    for p in (
        EmbedderProfile(
            name="mobilefacenet",
            model="mobilefacenet_foamliu.onnx",
            sha256="e0cfb3cbbaeb1f9121715749884bcfd0e3bf324928be2c642b78bc0d4365001a",
            **_MOBILEFACENET,
        ),
        EmbedderProfile(
            name="mobilefacenet_int8",
            model="mobilefacenet_foamliu_int8.onnx",
            sha256="0140ba3c1450a257235de0e120ceb8e25d4555f9622c214f482f13043d69eeb1",
            **_MOBILEFACENET,
        ),
        EmbedderProfile(
            name="facenet_casia",
            model="facenet_inception_resnet_v1_casia.onnx",
            sha256="de222ca150cb798840f8284c7e5e7574447892e3a0a526b41ce29d4bd85ce070",
            center="facenet_casia_mean.npy",
            threshold=0.49,
            **_FACENET,
        ),
        EmbedderProfile(
            name="facenet_casia_int8",
            model="facenet_inception_resnet_v1_casia_int8.onnx",
            sha256="0eb0a3cb0279cbc5c405e2be19da18f1be26e2cf5db3c7f6cdbf7e9d5921970e",
            center="facenet_casia_int8_mean.npy",
            threshold=0.48,
            **_FACENET,
        ),
    )
}

DEFAULT_PROFILE = "mobilefacenet_int8"
