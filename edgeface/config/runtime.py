"""``runtime``: how onnxruntime runs every model."""

from __future__ import annotations

from pydantic import Field

from edgeface.config.base import Section


class RuntimeConfig(Section):
    threads: int = Field(0, ge=0, le=64, description="onnxruntime intra-op threads; 0 = cores − 1.")
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="Execution providers in order of preference, e.g. CUDAExecutionProvider on a Jetson.",
    )
