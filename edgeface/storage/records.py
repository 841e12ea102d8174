"""A person as one versioned record: what a fleet shares, and how two copies of it are ordered.

Every change to a person in a store (a template added, the person removed, their door list or
schedule set) gives them a new *version*: ``max(previous + 1, now in milliseconds)``, so versions
grow with every change on one device and, between devices whose clocks roughly agree, the later
change has the higher version. Removing a person leaves a *tombstone* (``deleted``) holding the
version of the removal, so an older copy of the record that turns up later (a door that was
offline, a replayed message) cannot bring them back. Copies are ordered by version alone
(last writer wins): a store takes a record only if it is newer than its own, and taking the same
version again changes nothing.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from edgeface.config import Window
from edgeface.values import Vectors


@dataclass(frozen=True)
class TemplateRecord:
    """One template and the embedder that made it: vectors of two models are never compared."""

    model: str
    model_sha256: str
    vector: Vectors
    """One float32 row."""
    photo_sha256: str | None = None


@dataclass(frozen=True)
class PersonRecord:
    name: str
    version: int
    updated: float
    """When the change that made this version happened (epoch seconds, on the device that made it)."""
    deleted: bool = False
    templates: tuple[TemplateRecord, ...] = ()
    doors: tuple[str, ...] | None = None
    """Device ids of the doors that let this person in; None: every door."""
    schedule: tuple[Window, ...] | None = None
    """When those doors let them in; None: always (a door's own ``decide.schedules`` still applies)."""

    def models(self) -> set[tuple[str, str]]:
        return {(t.model, t.model_sha256) for t in self.templates}


class Outcome(enum.Enum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """The store already holds this version: taking a record twice is harmless."""
    STALE = "stale"
    """The store holds a newer version; the record was not taken."""


def next_version(previous: int, now: float | None = None) -> int:
    """The version of the next change after ``previous`` (see the module docstring)."""
    return max(previous + 1, int((time.time() if now is None else now) * 1000))
