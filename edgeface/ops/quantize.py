"""``edgeface models quantize``: an int8 copy of an embedding model, checked against the original.

Static quantization (the default) is calibrated on what the model will really
see: faces found by edgeface's own detector in a folder of photos, aligned
with the profile's crop and normalised by :func:`edgeface.vision.embed.preprocess`,
mirror images included when the profile averages flips. The result is QDQ
with per-channel QInt8 weights, QUInt8 activations and MinMax ranges, the
recipe of the shipped ``*_int8.onnx`` files. Dynamic quantization needs no
photos but turns convolutions into ConvInteger, which onnxruntime runs slower
than fp32 on CPU; it is offered for models where static does not apply.

After writing, both models embed the same real crops and the cosine between
their outputs is reported: that is the number to look at before trusting a
quantized file, along with ``edgeface bench accuracy``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeface.errors import ConfigError, EdgefaceError, ImageError, ModelError
from edgeface.models.checksums import file_sha256
from edgeface.models.profiles import BUILTIN_PROFILES, EmbedderProfile
from edgeface.models.runtime import RuntimeOptions, open_session
from edgeface.values import Image, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.detect import Detector
from edgeface.vision.embed import l2_normalise, preprocess
from edgeface.vision.images import load_image, photos_under
from edgeface.vision.pick import primary_face

log = logging.getLogger(__name__)

CALIBRATION_BATCH = 8
MAX_CALIBRATION_PHOTOS = 500
"""MinMax ranges settle after a few hundred faces; more photos only cost time."""


@dataclass(frozen=True)
class QuantizeResult:
    output: Path
    sha256: str
    size: int
    method: str
    profile: str
    calibration_faces: int
    photos_without_face: int
    fidelity_mean: float | None
    """Mean cosine between fp32 and quantized embeddings of the same real crops (None without crops)."""
    fidelity_min: float | None
    seconds: float
    reference: Path | None = None
    """Another quantized copy (e.g. the one shipped) compared with this one on the same faces."""
    reference_mean: float | None = None
    reference_min: float | None = None

    def summary(self, source: Path) -> list[str]:
        """What was written and how faithful it is, as lines for a terminal."""
        lines = [
            f"{self.output}: {self.method}, profile {self.profile}",
            f"  {self.size / 1e6:.2f} MB (from {source.stat().st_size / 1e6:.2f} MB), sha256 {self.sha256}",
        ]
        if self.calibration_faces:
            used = "measured" if self.method.startswith("dynamic") else "calibrated"
            lines.append(f"  {used} on {self.calibration_faces} faces ({self.photos_without_face} photos without one)")
        if self.fidelity_mean is not None and self.fidelity_min is not None:
            lines.append(
                f"  cosine to the original on those faces: mean {self.fidelity_mean:.4f}, min {self.fidelity_min:.4f}"
            )
        if self.reference is not None and self.reference_mean is not None and self.reference_min is not None:
            lines.append(
                f"  cosine to {self.reference.name} on those faces: "
                f"mean {self.reference_mean:.4f}, min {self.reference_min:.4f}"
            )
        lines.append(
            f"  use it with embedder: {{profile: {self.profile}, model: {self.output}, sha256: {self.sha256}}}"
        )
        lines.append("  and compare with `edgeface bench accuracy` before making it the default")
        return lines


def profile_for(path: Path, default: EmbedderProfile) -> EmbedderProfile:
    """The built-in profile whose pinned file this is, else ``default`` (the config's)."""
    sha = file_sha256(path)
    return next((p for p in BUILTIN_PROFILES.values() if p.sha256 == sha), default)


def calibration_crops(detector: Detector, photos: Iterable[Path], profile: EmbedderProfile) -> tuple[list[Image], int]:
    """The aligned crop of each photo's main face, and how many photos had no usable face."""
    crops, missed = [], 0
    spec = CropSpec.for_profile(profile)
    for photo in photos:
        try:
            image = load_image(photo)
        except ImageError as exc:
            log.warning("calibration photo skipped: %s", exc)
            missed += 1
            continue
        face = primary_face(detector.detect(image), image.shape)
        if face is None:
            missed += 1
            continue
        crops.append(align(image, face, spec))
    return crops, missed


def calibration_photos(directory: Path, limit: int = MAX_CALIBRATION_PHOTOS) -> list[Path]:
    """Up to ``limit`` photos anywhere below ``directory``, spread evenly over its sorted listing."""
    photos = photos_under(directory)
    if not photos:
        raise ConfigError(f"{directory}: no photos (.jpg, .png, ...) found for calibration")
    if len(photos) > limit:
        # An even stride keeps every person represented instead of the first few folders only.
        photos = [photos[i] for i in np.linspace(0, len(photos) - 1, limit).round().astype(int)]
    return photos


def model_inputs(crops: list[Image], profile: EmbedderProfile) -> Vectors:
    """The tensor the embedder is fed for these crops: with their mirror images when the profile flips."""
    tensor = preprocess(crops, profile)
    if profile.flip:
        tensor = np.concatenate([tensor, tensor[..., ::-1]])
    return np.ascontiguousarray(tensor)


def _calibration_reader(input_name: str, tensor: Vectors) -> object:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type hints
        def __init__(self) -> None:
            self._batches: Iterator[Vectors] = iter(
                [tensor[i : i + CALIBRATION_BATCH] for i in range(0, len(tensor), CALIBRATION_BATCH)]
            )

        def get_next(self) -> dict[str, Vectors] | None:
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    return Reader()


def _embed(path: Path, tensor: Vectors) -> Vectors:
    session, _ = open_session(path, file_sha256(path), RuntimeOptions())
    name = session.get_inputs()[0].name
    # One input per call, as the door embeds a face: a dynamically quantized model's output depends on
    # what else is in the batch (its activation ranges are measured per call; cos 0.98-0.99 in a batch of 32).
    rows = [np.asarray(session.run(None, {name: tensor[i : i + 1]})[0], np.float32) for i in range(len(tensor))]
    return l2_normalise(np.concatenate(rows))


def fidelity(original: Path, quantized: Path, tensor: Vectors) -> tuple[float, float]:
    """Mean and minimum cosine between the two models' embeddings of the same inputs."""
    cos = np.sum(_embed(original, tensor) * _embed(quantized, tensor), axis=1)
    return float(cos.mean()), float(cos.min())


def _stamp(path: Path, props: dict[str, str]) -> None:
    """Record how the file was made in its metadata_props (visible with onnx.load(p).metadata_props)."""
    import onnx

    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in props.items():
        entry = existing.get(key) or model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


class _DropPreprocessHint(logging.Filter):
    """onnxruntime.quantization logs "consider pre-processing before quantization" on the root logger.

    For the shipped embedders its pre-processing changed neither speed nor fidelity
    (measured on MobileFaceNet: cosine 0.994 and 0.94 ms either way), so the hint
    would only send users on a detour.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


@contextlib.contextmanager
def _quiet_preprocess_hint() -> Iterator[None]:
    hint = _DropPreprocessHint()
    root = logging.getLogger()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def quantize_model(
    source: Path,
    output: Path,
    profile: EmbedderProfile,
    *,
    crops: list[Image] | None,
    dynamic: bool = False,
    photos_without_face: int = 0,
    reference: Path | None = None,
) -> QuantizeResult:
    """Quantize ``source`` into ``output`` (written atomically) and measure its fidelity on ``crops``.

    Dynamic quantization converts the MatMul weights only (per tensor, QInt8): that is what keeps
    the transformer-style EdgeFace networks faithful (cos 0.994 to fp32, where quantizing their
    convolutions too gives 0.966) and reproduces the int8 EdgeFace files shipped beside them.
    Convolutional networks (MobileFaceNet) gain nothing from it: quantize them statically.
    """
    try:
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_dynamic,
            quantize_static,
        )
    except ImportError as exc:  # onnxruntime.quantization needs the onnx package
        raise EdgefaceError(f"quantization needs the onnx package: pip install 'edgeface[quantize]' ({exc})") from exc
    if not dynamic and not crops:
        raise ConfigError("static quantization needs calibration faces: give --calibration DIR, or use --dynamic")
    started = time.monotonic()
    source_sha = file_sha256(source)
    session, _ = open_session(source, source_sha, RuntimeOptions())
    input_name = session.get_inputs()[0].name
    del session
    tensor = model_inputs(crops, profile) if crops else None
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if dynamic:
            method = "dynamic int8 (MatMul weights, QInt8 per tensor)"
            with _quiet_preprocess_hint():
                quantize_dynamic(
                    str(source),
                    str(tmp),
                    op_types_to_quantize=["MatMul"],
                    weight_type=QuantType.QInt8,
                    per_channel=False,
                )
        else:
            assert tensor is not None
            method = f"static int8 QDQ (per-channel QInt8 weights, QUInt8 activations, MinMax on {len(tensor)} inputs)"
            with _quiet_preprocess_hint():
                quantize_static(
                    str(source),
                    str(tmp),
                    _calibration_reader(input_name, tensor),
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                )
        _stamp(tmp, {"edgeface.quantized_from": source_sha, "edgeface.quantization": method})
        mean, low = fidelity(source, tmp, tensor) if tensor is not None else (None, None)
        ref_mean, ref_min = fidelity(reference, tmp, tensor) if tensor is not None and reference else (None, None)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except EdgefaceError:
        raise
    except Exception as exc:  # onnxruntime.quantization raises plain exceptions for models it cannot handle
        raise ModelError(f"{source}: quantization failed ({type(exc).__name__}: {exc})") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return QuantizeResult(
        output=output,
        sha256=file_sha256(output),
        size=output.stat().st_size,
        method=method,
        profile=profile.name,
        calibration_faces=len(crops or []),
        photos_without_face=photos_without_face,
        fidelity_mean=mean,
        fidelity_min=low,
        seconds=time.monotonic() - started,
        reference=reference,
        reference_mean=ref_mean,
        reference_min=ref_min,
    )
