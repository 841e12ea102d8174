"""``quality``: gates a live face must pass before it is embedded."""

from __future__ import annotations

from pydantic import Field

from edgeface.config.base import Section


class QualityConfig(Section):
    """Gates a live face must pass before it is embedded; a failing face is tracked but is no evidence."""

    min_face: int = Field(24, ge=8, le=1024, description="Faces smaller than this (px, shorter box side) are ignored.")
    max_yaw: float = Field(
        0.6, gt=0.0, le=1.0, description="Nose offset from the eyes' midline in eye distances; 1 disables."
    )
    min_sharpness: float = Field(
        10.0, ge=0.0, le=10000.0, description="Variance of the Laplacian over the face; 0 disables."
    )
