"""Events as the daemon makes them, for tests of the outbox and the publisher."""

from __future__ import annotations

import uuid

from edgeface.values import Event, EventType


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
