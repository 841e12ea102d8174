"""``detector``: the YuNet face detector and the sizes frames are detected at."""

from __future__ import annotations

from pydantic import Field

from edgeface.config.base import Section, Sha256
from edgeface.models.catalogue import DEFAULT_DETECTOR, pinned_sha256


class DetectorConfig(Section):
    model: str = Field(DEFAULT_DETECTOR, description="YuNet ONNX file (dynamic input size).")
    sha256: Sha256 | None = Field(pinned_sha256(DEFAULT_DETECTOR), description="Pinned SHA-256.")
    score_threshold: float = Field(0.7, gt=0.0, lt=1.0, description="Minimum face score.")
    nms_threshold: float = Field(0.3, gt=0.0, lt=1.0, description="IoU above which overlapping boxes merge.")
    max_side: int = Field(640, ge=64, le=4096, description="Downscale frames so the longer side is at most this.")
    live_max_side: int | None = Field(
        416,
        ge=64,
        le=4096,
        description="Camera frames only (photos keep max_side); null = max_side. Smaller is faster and leaner "
        "(416: detect 3.9 -> ~2 ms, daemon peak RSS 158 -> 146 MB) with coarser landmarks; 320 is the floor.",
    )
