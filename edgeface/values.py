"""Values passed between the pipeline stages.

They are plain frozen dataclasses holding numpy arrays and scalars; later
stages import them, they import no stage.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    # Annotations only: the safety path (``edgeface relay lock``) imports these values without numpy.
    import numpy as np
    import numpy.typing as npt

JOURNAL: Mapping[str, object] = MappingProxyType({"journal": True})
"""``log.info(..., extra=JOURNAL)``: a line of the daemon's life (its start, the broker and the camera lost
and back, its stop) that belongs in the journal at the default verbosity, as each decision does."""

Image: TypeAlias = "npt.NDArray[np.uint8]"
"""A BGR image, H×W×3, uint8 (OpenCV's layout)."""

Vectors: TypeAlias = "npt.NDArray[np.float32]"
"""Rows of L2-normalised embeddings, N×D, float32."""

Box: TypeAlias = tuple[float, float, float, float]
"""A face's x, y, width and height in pixels."""


@dataclass(frozen=True)
class Frame:
    """One picture from a capture source."""

    image: Image
    ts: float
    """Wall-clock time of capture, seconds since the epoch."""
    index: int
    """Position in the source's stream, counting from 0."""


@dataclass(frozen=True)
class Face:
    """A detected face in image coordinates."""

    box: Box
    """x, y, width, height in pixels."""
    score: float
    landmarks: npt.NDArray[np.float32] = field(repr=False)
    """5×2 points: right eye, left eye, nose tip, right and left mouth corners
    (the first eye is the one on the image's left)."""

    @property
    def size(self) -> float:
        """The shorter side of the box, the usual measure of face size."""
        return min(self.box[2], self.box[3])

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


@dataclass(frozen=True)
class Match:
    """The best enrolled person for one probe embedding."""

    person: str | None
    """The accepted person, or None when the probe is unknown."""
    similarity: float
    """Cosine similarity to the best person's nearest template."""
    candidate: str | None
    """The nearest person whether accepted or not (None with an empty gallery)."""
    second_similarity: float
    """Similarity to the nearest *other* person (-1 when there is none)."""
    live: bool | None = None
    """Liveness of this face in this frame: True live, False a presentation attack, None not checked."""

    @property
    def margin(self) -> float:
        return self.similarity - self.second_similarity


class EventType(str, enum.Enum):
    GRANTED = "granted"
    DENIED = "denied"
    UNKNOWN = "unknown"


class DoorState(str, enum.Enum):
    LOCKED = "locked"
    UNLOCKED = "unlocked"


@dataclass(frozen=True)
class Decision:
    """What the decide stage concluded about one visit."""

    type: EventType
    person: str | None
    similarity: float
    frames: int
    """How many frames agreed."""
    reason: str | None = None
    """Why a decision is not a plain grant: ``schedule``, ``spoof``, ``remote``..."""
    track: int | None = None
    """The tracked face this decision is about, if any."""


@dataclass(frozen=True)
class Event:
    """A decision as published: the JSON contract of the MQTT ``event`` topic."""

    id: str
    """uuid4, unique per event; subscribers de-duplicate on it."""
    ts: str
    """ISO-8601 UTC."""
    device: str
    type: EventType
    person: str | None
    similarity: float
    frames: int
    reason: str | None = None
    suppressed: int | None = None
    """On an unknown event: how many stranger decisions were folded into it since the last one reported
    (see :mod:`edgeface.door.strangers`); None on other events."""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "ts": self.ts,
            "device": self.device,
            "type": self.type.value,
            "person": self.person,
            "similarity": round(self.similarity, 4),
            "frames": self.frames,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.suppressed is not None:
            out["suppressed"] = self.suppressed
        return out
