"""``embedder``: a shipped embedder profile by name, with any of its fields overridden."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edgeface.config.base import Section, Sha256
from edgeface.models.profiles import BUILTIN_PROFILES, DEFAULT_PROFILE, EmbedderProfile


class EmbedderConfig(Section):
    """A shipped profile by name, with any of its fields overridden."""

    profile: str = Field(DEFAULT_PROFILE, description=f"One of: {', '.join(BUILTIN_PROFILES)}.")
    model: str | None = Field(None, description="Model file; overrides the profile's.")
    sha256: Sha256 | Literal["unset"] | None = Field(
        "unset", description="Pinned SHA-256; overrides the profile's; null loads the file unverified."
    )
    input_size: int | None = Field(None, ge=32, le=1024)
    color: Literal["rgb", "bgr"] | None = None
    normalize: Literal["mean_std", "prewhiten"] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    crop: Literal["template", "box"] | None = None
    crop_scale: float | None = Field(None, gt=0.2, le=2.0)
    crop_shift_y: float | None = Field(None, ge=-0.5, le=0.5)
    crop_margin: float | None = Field(None, ge=0.0, le=1.0)
    output_dim: int | None = Field(None, ge=2, le=4096)
    flip: bool | None = None
    center: str | None = None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in BUILTIN_PROFILES:
            raise ValueError(f"unknown profile {value!r}; choose one of {', '.join(BUILTIN_PROFILES)}")
        return value

    def resolve(self) -> EmbedderProfile:
        base = BUILTIN_PROFILES[self.profile]
        overrides = self.model_dump(exclude={"profile", "sha256"}, exclude_none=True)
        if self.sha256 != "unset":
            overrides["sha256"] = self.sha256
        elif "model" in overrides and overrides["model"] != base.model:
            # A different file cannot carry the shipped file's checksum; pin it explicitly or load unverified.
            overrides["sha256"] = None
        # The shipped impostor tail belongs to those exact weights and that preprocessing; anything else
        # must be measured again (edgeface calibrate) before a target FAR can be promised.
        same_weights = base.sha256 is not None and overrides.get("sha256", base.sha256) == base.sha256
        if not same_weights or set(overrides) - {"model", "sha256"}:
            overrides["impostor_tail"] = None
        return base.model_copy(update=overrides)
