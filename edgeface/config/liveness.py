"""``liveness``: passive liveness on matched faces, and the temporal landmark check."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edgeface.config.base import Section, Sha256
from edgeface.models.catalogue import pinned_sha256

DEFAULT_THRESHOLD = 0.5
"""A real probability of 0.5 or more is always upstream's argmax == real (for an explicit ``threshold``)."""
DEFAULT_MODELS: tuple[tuple[str, float], ...] = (
    ("antispoof_minifasnet_v2_2.7_80x80.onnx", 2.7),
    ("antispoof_minifasnet_v1se_4.0_80x80.onnx", 4.0),
)
"""(file, box scale) of the shipped pair, the combination upstream fuses."""
DEFAULT_SCREEN_CUE = "liveness_screen_cue.npz"
SCREEN_CUE_SHA256 = "6e00e2ace529b92c5d49f3b2443d177b002d9d37e86480caacb39b4c8ec2ee37"
"""The shipped cue's pin (it lives in the repo's models/ only, not in the model catalogue of downloads)."""


class LivenessModelConfig(Section):
    model: str = Field(description="Silent-Face MiniFASNet ONNX file (80×80 input, 3 classes).")
    sha256: Sha256 | None = Field(description="Pinned SHA-256; null loads the file unverified.")
    scale: float = Field(gt=1.0, le=10.0, description="Box scale the model was trained on (2.7, 4.0).")


class TemporalConfig(Section):
    """The landmark-motion check: a picture moves as a plane, a head does not."""

    enabled: bool = Field(False, description="Also require non-rigid landmark motion (adds min_seconds of latency).")
    threshold: float = Field(
        0.038, gt=0.0, le=1.0, description="Non-rigid residual (inter-ocular distances) at or above which it is live."
    )
    window_seconds: float = Field(2.0, gt=0.0, le=30.0, description="Landmarks older than this are not used.")
    min_seconds: float = Field(1.5, ge=0.0, le=30.0, description="A track must be matched this long before a verdict.")
    min_frames: int = Field(6, ge=3, le=100, description="And in at least this many frames.")
    min_face: float = Field(40.0, ge=8.0, le=1024.0, description="Smaller faces (px) are too noisy to use.")

    @model_validator(mode="after")
    def _min_inside_window(self) -> TemporalConfig:
        if self.min_seconds > self.window_seconds:
            raise ValueError(f"min_seconds ({self.min_seconds}) cannot exceed window_seconds ({self.window_seconds})")
        return self


class ScreenCueConfig(Section):
    """The screen cue fused with the networks (edgeface.liveness.screen): it can only refuse, never accept."""

    model: str = Field(DEFAULT_SCREEN_CUE, description="Plain-array weights (.npz) of the cue.")
    sha256: Sha256 | None = Field(SCREEN_CUE_SHA256, description="Pinned SHA-256; null loads the file unverified.")


def _default_liveness_models() -> list[LivenessModelConfig]:
    return [LivenessModelConfig(model=name, sha256=pinned_sha256(name), scale=scale) for name, scale in DEFAULT_MODELS]


class LivenessConfig(Section):
    """Passive liveness on faces that matched an enrolled person: prints and screens are denied (reason spoof)."""

    enabled: bool = Field(
        True, description="On by default: off lets a photo or a screen of a member open the door (warned at start)."
    )
    level: Literal["convenient", "balanced", "secure"] = Field(
        "balanced",
        description="Operating point measured on pad-dev: refuses about 1 % / 5 % / 10 % of live faces.",
    )
    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Overrides level: fused real-class probability at or above which a face is live.",
    )
    models: list[LivenessModelConfig] = Field(
        default_factory=_default_liveness_models, min_length=1, description="Networks whose softmax is averaged."
    )
    screen_cue: ScreenCueConfig | None = Field(
        default_factory=ScreenCueConfig,
        description="A second opinion aimed at phones and screens; null: the networks alone.",
    )
    temporal: TemporalConfig = Field(default_factory=TemporalConfig)

    @property
    def summary(self) -> str:
        """``off``, the level, or ``threshold T``: for the start line and the Home Assistant device."""
        if not self.enabled:
            return "off"
        return self.level if self.threshold is None else f"threshold {self.threshold:g}"
