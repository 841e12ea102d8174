"""Embedding: aligned face crops → L2-normalised vectors.

Preprocessing is a pure function of the crops and the model profile; the
embedder runs every face of a frame (and, with flip averaging, their mirror
images) in one onnxruntime call.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import onnxruntime as ort

from edgeface.errors import ModelError
from edgeface.models.profiles import EmbedderProfile
from edgeface.values import Image, Vectors

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns aligned crops into unit vectors; ``model_id`` tags the templates it makes."""

    @property
    def profile(self) -> EmbedderProfile: ...

    @property
    def model_id(self) -> tuple[str, str]: ...

    def embed(self, crops: list[Image]) -> Vectors: ...

    def close(self) -> None: ...


def preprocess(crops: list[Image], profile: EmbedderProfile) -> Vectors:
    """Stack BGR uint8 crops into the N×3×S×S float32 tensor the profile describes."""
    batch: Vectors = np.stack(crops).astype(np.float32)
    if profile.color == "rgb":
        batch = batch[..., ::-1]
    if profile.normalize == "prewhiten":
        flat = batch.reshape(len(crops), -1)
        mean = flat.mean(axis=1)
        std = np.maximum(flat.std(axis=1), np.float32(1.0 / np.sqrt(flat.shape[1])))
        batch = (batch - mean[:, None, None, None]) / std[:, None, None, None]
    else:
        mean_px = np.asarray(profile.mean, np.float32)
        std_px = np.asarray(profile.std, np.float32)
        batch = (batch - mean_px) / std_px
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def l2_normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class OnnxEmbedder:
    """An ONNX embedding model described by a profile."""

    def __init__(
        self, session: ort.InferenceSession, profile: EmbedderProfile, sha256: str, center: Vectors | None = None
    ) -> None:
        self._session = session
        self._profile = profile
        self._sha256 = sha256
        self._input = session.get_inputs()[0].name
        if center is not None and center.shape != (profile.output_dim,):
            raise ModelError(
                f"{profile.center}: mean embedding of shape {center.shape}, expected ({profile.output_dim},)"
            )
        self._center = center

    @property
    def profile(self) -> EmbedderProfile:
        return self._profile

    @property
    def model_id(self) -> tuple[str, str]:
        """(profile name, SHA-256 of the model file): templates are only comparable within one id."""
        return self._profile.name, self._sha256

    def embed(self, crops: list[Image]) -> Vectors:
        if not crops:
            return np.zeros((0, self._profile.output_dim), np.float32)
        tensor = preprocess(crops, self._profile)
        if self._profile.flip:
            # Mirror images go in the same call: one batch of 2N is cheaper than two runs.
            tensor = np.concatenate([tensor, tensor[..., ::-1]])
        out = np.asarray(self._session.run(None, {self._input: tensor})[0], dtype=np.float32)
        if out.ndim != 2 or out.shape[1] != self._profile.output_dim:
            raise ModelError(
                f"embedder {self._profile.name} returned shape {out.shape}, "
                f"expected (N, {self._profile.output_dim}); check output_dim in the profile"
            )
        if self._profile.flip:
            n = len(crops)
            out = l2_normalise(out[:n]) + l2_normalise(out[n:])
        if self._center is not None:
            # Removing the mean face direction spreads the vectors over the sphere (FaceNet's --subtract_mean).
            out = l2_normalise(out) - self._center
        return l2_normalise(out)

    def close(self) -> None:
        """onnxruntime frees the session with the object; nothing else is held."""
