"""What the library says about each face: a plain value built from the pipeline's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeface.values import Vectors
from edgeface.vision.pipeline import FaceOutcome


@dataclass(frozen=True)
class Recognition:
    """One face found in a frame, and who it is."""

    name: str | None
    """The enrolled person it is; None for a stranger, a presentation attack or a face that was not checked."""
    similarity: float | None
    """Cosine similarity to the nearest enrolled person; None when the face was not embedded or nobody is enrolled."""
    box: tuple[int, int, int, int]
    """x, y, width, height in the frame's pixels."""
    reason: str | None = None
    """Why it was not recognised as usual: ``small``, ``turned``, ``blurred`` (the door's quality gates),
    ``spoof`` or ``liveness`` (the liveness check refused it or is still gathering frames); None otherwise."""
    track: int | None = None
    """The same face across the frames of one stream keeps its number; None for a face too small to track."""
    live: bool | None = None
    """The liveness check's verdict: True live, False a presentation attack, None not checked."""
    embedding: Vectors | None = field(default=None, repr=False)
    """Its embedding (one L2-normalised row) when it was embedded."""

    @classmethod
    def from_outcome(cls, outcome: FaceOutcome) -> Recognition:
        match = outcome.match
        live = match.live if match is not None else None
        name = match.person if match is not None and live is not False else None
        similarity = match.similarity if match is not None and match.candidate is not None else None
        x, y, w, h = (round(v) for v in outcome.face.box)
        return cls(name, similarity, (x, y, w, h), outcome.reason, outcome.track, live, outcome.vector)
