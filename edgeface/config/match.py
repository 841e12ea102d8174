"""``match``: when a probe's similarity to an enrolled person counts as that person."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edgeface.config.base import Section
from edgeface.models.profiles import ImpostorTail

DEFAULT_TARGET_FAR = 1e-3


class MatchConfig(Section):
    target_far: float = Field(
        DEFAULT_TARGET_FAR,
        gt=0.0,
        le=0.5,
        description="False-accept rate per attempt to hold: the chance that a stranger is taken for anyone "
        "enrolled. The threshold follows the gallery: more templates, a higher threshold.",
    )
    threshold: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="A fixed cosine similarity to accept a match instead (it does not follow the gallery).",
    )
    distance_threshold: float | None = Field(
        None,
        gt=0.0,
        le=2.0,
        description="The seed's FaceNet-style Euclidean distance on unit vectors, as a fixed threshold.",
    )
    margin: float = Field(0.0, ge=0.0, le=2.0, description="Required lead of the best person over the runner-up.")
    score: Literal["centroid", "max"] = Field(
        "centroid",
        description="How a person with several templates is scored: against the mean of their templates "
        "(lfw-dev, 3 photos each: TAR 0.942 at FAR 1e-3) or their nearest one (0.940, and a wider impostor tail).",
    )
    impostor_tail: ImpostorTail | None = Field(
        None,
        description="The embedder's impostor-score tail fitted on your own photos (edgeface calibrate --write-config);"
        " null = the one the profile ships.",
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> MatchConfig:
        if self.threshold is not None and self.distance_threshold is not None:
            raise ValueError("set threshold or distance_threshold, not both")
        return self

    def fixed_similarity(self) -> float | None:
        """The fixed similarity threshold, if one is set (a distance d on unit vectors is similarity 1 − d²/2)."""
        if self.distance_threshold is not None:
            return 1.0 - self.distance_threshold**2 / 2.0
        return self.threshold
