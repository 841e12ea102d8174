"""``match``: when a probe's similarity to an enrolled person counts as that person."""

from __future__ import annotations

from pydantic import Field, model_validator

from edgeface.config.base import Section


class MatchConfig(Section):
    threshold: float | None = Field(
        None, ge=-1.0, le=1.0, description="Cosine similarity to accept a match; null = the profile's."
    )
    distance_threshold: float | None = Field(
        None, gt=0.0, le=2.0, description="FaceNet-style Euclidean distance on unit vectors (alternative to threshold)."
    )
    margin: float = Field(0.0, ge=0.0, le=2.0, description="Required lead of the best person over the runner-up.")

    @model_validator(mode="after")
    def _one_threshold(self) -> MatchConfig:
        if self.threshold is not None and self.distance_threshold is not None:
            raise ValueError("set threshold or distance_threshold, not both")
        return self
