"""The audit log: every decision, queryable by person and time, forgotten after its retention."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edgeface.errors import StoreError
from edgeface.storage.audit import AuditLog, parse_since
from edgeface.values import EventType
from tests.support.events import make_event


def test_the_audit_log_keeps_decisions_queryable_and_forgets_after_retention(tmp_path: Path) -> None:
    path = tmp_path / "people.db"
    with AuditLog(path, retention_days=30) as audit:
        audit.record(make_event(type=EventType.GRANTED, person="ann"))
        audit.record(make_event(type=EventType.UNKNOWN, person=None))
        audit.record(make_event(type=EventType.DENIED, person="bob"))
        assert [e.type for e in audit.entries()] == ["granted", "unknown", "denied"]
        assert [e.person for e in audit.entries(person="bob")] == ["bob"]
        assert audit.entries(since=parse_since("1h")) != []
        assert audit.purge(now=time.time() + 31 * 86400) == 3
        assert audit.entries() == []
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_since_takes_durations_and_dates() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("2026-11-25T00:00:00Z") == parse_since("2026-11-25")
    with pytest.raises(StoreError, match="--since"):
        parse_since("yesterday")
