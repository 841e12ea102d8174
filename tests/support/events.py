"""Events as the daemon makes them, and an outbox to keep them in, for tests of the outbox's users."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeface.storage.outbox import Outbox
from edgeface.values import Event, EventType

EVENT_KEYS = {"id", "ts", "device", "type", "person", "similarity", "frames"}
"""The keys of every event payload (a denial adds ``reason``)."""


def make_event(n: int = 0, **changes: object) -> Event:
    """A granted event numbered ``n`` (its second of the minute); any field can be changed."""
    fields: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "ts": f"2026-05-09T07:35:{n % 60:02d}+00:00",
        "device": "door1",
        "type": EventType.GRANTED,
        "person": "ada",
        "similarity": 0.712345,
        "frames": 3,
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An empty outbox in the test's private state dir, closed after the test."""
    with Outbox(tmp_path / "state" / "outbox.db", max_events=1000) as box:
        yield box
