"""The outbox keeps every event, in order, on disk, until the broker acknowledged it."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from edgeface.errors import PermissionsError
from edgeface.storage.outbox import Outbox, OutboxError
from edgeface.values import Event, EventType
from tests.support.events import make_event


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "outbox.db"


def test_events_come_out_in_the_order_they_were_put(path: Path) -> None:
    events = [make_event(i) for i in range(5)]
    with Outbox(path, max_events=100) as outbox:
        for event in events:
            outbox.put(event)
        pending = outbox.pending(limit=10)
    assert [e for _, e in pending] == events
    seqs = [seq for seq, _ in pending]
    assert seqs == sorted(seqs)


def test_an_event_round_trips_with_its_reason_and_null_person(path: Path) -> None:
    event = make_event(type=EventType.DENIED, person=None, reason="spoof", similarity=0.5)
    with Outbox(path, max_events=10) as outbox:
        outbox.put(event)
        assert outbox.pending() == [(1, event)]


def test_pending_pages_with_limit_and_after(path: Path) -> None:
    with Outbox(path, max_events=100) as outbox:
        for i in range(5):
            outbox.put(make_event(i))
        first = outbox.pending(limit=2)
        rest = outbox.pending(limit=10, after=first[-1][0])
        assert [seq for seq, _ in first + rest] == [seq for seq, _ in outbox.pending(limit=10)]
        assert len(rest) == 3


def test_ack_removes_exactly_that_event(path: Path) -> None:
    a, b, c = make_event(1), make_event(2), make_event(3)
    with Outbox(path, max_events=10) as outbox:
        for event in (a, b, c):
            outbox.put(event)
        assert outbox.ack(b.id) is True
        assert outbox.ack(b.id) is False  # a second PUBACK for the same event is harmless
        assert outbox.ack("no-such-id") is False
        assert [e for _, e in outbox.pending()] == [a, c]
        assert len(outbox) == 2


def test_seq_keeps_growing_after_the_outbox_empties(path: Path) -> None:
    # The publisher pages with after=<last seq handed over>: a reused seq would be skipped.
    with Outbox(path, max_events=10) as outbox:
        first = make_event(1)
        outbox.put(first)
        ((seq1, _),) = outbox.pending()
        outbox.ack(first.id)
        outbox.put(make_event(2))
        ((seq2, _),) = outbox.pending()
    assert seq2 > seq1


def test_putting_the_same_event_twice_keeps_one(path: Path) -> None:
    event = make_event()
    with Outbox(path, max_events=10) as outbox:
        outbox.put(event)
        outbox.put(event)
        assert len(outbox) == 1


def test_past_the_cap_the_oldest_are_dropped_with_one_warning(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events = [make_event(i) for i in range(11)]
    with Outbox(path, max_events=10) as outbox:
        for event in events[:10]:
            outbox.put(event)
        assert not caplog.records
        with caplog.at_level(logging.WARNING, logger="edgeface.storage.outbox"):
            outbox.put(events[10])
        assert [e for _, e in outbox.pending(limit=100)] == events[1:]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "dropped the 1 oldest" in record.getMessage()


def test_a_lower_cap_on_reopen_drops_the_excess_in_one_warning(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events = [make_event(i) for i in range(10)]
    with Outbox(path, max_events=100) as outbox:
        for event in events:
            outbox.put(event)
    newest = make_event(99)
    with Outbox(path, max_events=4) as outbox, caplog.at_level(logging.WARNING, logger="edgeface.storage.outbox"):
        outbox.put(newest)
        assert [e for _, e in outbox.pending()] == [*events[7:], newest]
    (record,) = caplog.records
    assert "dropped the 7 oldest" in record.getMessage()


def test_events_survive_closing_and_reopening(path: Path) -> None:
    events = [make_event(i) for i in range(3)]
    with Outbox(path, max_events=10) as outbox:
        for event in events:
            outbox.put(event)
        outbox.ack(events[0].id)
    with Outbox(path, max_events=10) as outbox:
        assert [e for _, e in outbox.pending()] == events[1:]


def test_a_killed_process_loses_nothing_it_put(path: Path) -> None:
    # put() returning means committed and fsynced: the process dies without close() right after.
    script = textwrap.dedent(
        f"""
        import os, uuid
        from pathlib import Path
        from edgeface.storage.outbox import Outbox
        from edgeface.values import Event, EventType
        outbox = Outbox(Path({str(path)!r}), max_events=100)
        for i in range(20):
            outbox.put(Event(f"e{{i:02d}}", "2026-05-09T07:35:00+00:00", "door1", EventType.UNKNOWN, None, 0.1, 1))
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    with Outbox(path, max_events=100) as outbox:
        assert [e.id for _, e in outbox.pending(limit=100)] == [f"e{i:02d}" for i in range(20)]


def test_the_file_is_private_in_a_private_directory(path: Path) -> None:
    with Outbox(path, max_events=10) as outbox:
        outbox.put(make_event())
        files = sorted(path.parent.iterdir())
        assert {p.name for p in files} >= {"outbox.db", "outbox.db-wal"}  # WAL mode
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_file_readable_by_others_is_refused(path: Path) -> None:
    Outbox(path, max_events=10).close()
    os.chmod(path, 0o644)
    with pytest.raises(PermissionsError, match="0644"):
        Outbox(path, max_events=10)


def test_a_file_that_is_not_an_outbox_is_refused(path: Path) -> None:
    Outbox(path, max_events=10).close()
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError, match=r"outbox\.db: not a usable edgeface outbox"):
        Outbox(path, max_events=10)


def test_a_newer_schema_is_refused(path: Path) -> None:
    Outbox(path, max_events=10).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(OutboxError, match="v99 is newer"):
        Outbox(path, max_events=10)


def test_a_closed_outbox_says_so_and_closing_twice_is_fine(path: Path) -> None:
    outbox = Outbox(path, max_events=10)
    outbox.close()
    outbox.close()
    with pytest.raises(OutboxError, match="closed"):
        outbox.put(make_event())


def test_the_cap_must_be_positive(path: Path) -> None:
    with pytest.raises(ValueError, match="max_events"):
        Outbox(path, max_events=0)


def test_threads_can_put_and_ack_at_once(path: Path) -> None:
    with Outbox(path, max_events=10_000) as outbox:
        per_thread = 50
        done: list[Event] = []

        def produce() -> None:
            for i in range(per_thread):
                event = make_event(i)
                outbox.put(event)
                if i % 2:
                    assert outbox.ack(event.id)
                else:
                    done.append(event)

        threads = [threading.Thread(target=produce) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(outbox) == len(done) == 4 * per_thread // 2
        assert {e.id for _, e in outbox.pending(limit=1000)} == {e.id for e in done}
