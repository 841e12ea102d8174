"""The outbox: a durable FIFO of events waiting for the broker's acknowledgement.

Every event is written here *before* anyone tries to publish it, and is
removed only when the broker has acknowledged it (PUBACK), so a broker outage,
a crash or a power cut between the decision and the acknowledgement loses
nothing: what :meth:`Outbox.put` committed is on disk (SQLite WAL with
``synchronous=FULL``, so each commit is fsynced before ``put`` returns).

Order is the order of ``put``; ``seq`` numbers only grow, even across restarts
and after the outbox has been emptied (``AUTOINCREMENT``), so a reader can
page through it with ``pending(after=last_seq)``. When more than
``max_events`` wait, the oldest are dropped with one warning per ``put``
naming how many: on a door that is offline for weeks the newest events are the
ones worth keeping.

The file is created 0600 in a 0700 directory (events name people). One
connection is shared by the caller's thread and the publisher's thread behind
a lock: writes are tiny and SQLite serialises them anyway. Opening writes the
schema version even when it is current, so a full or read-only state
directory stops the daemon at start, before it makes a decision it could not
record.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from pathlib import Path
from types import TracebackType

from edgeface.errors import OutboxError
from edgeface.storage.sqlite import Database, Schema
from edgeface.values import Event, EventType

__all__ = ["Outbox", "OutboxError"]

log = logging.getLogger(__name__)

_OUTBOX = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
"""
_SCHEMA = Schema("outbox", (_OUTBOX,))
"""The outbox's file: v1 the events waiting, in order."""


def _encode(event: Event) -> str:
    # Every field unrounded (to_dict() rounds the similarity): the event comes back exactly as put.
    fields = dataclasses.asdict(event) | {"type": event.type.value}
    return json.dumps(fields, separators=(",", ":"))


def _decode(body: str) -> Event:
    data = json.loads(body)
    return Event(
        id=data["id"],
        ts=data["ts"],
        device=data["device"],
        type=EventType(data["type"]),
        person=data["person"],
        similarity=data["similarity"],
        frames=data["frames"],
        reason=data["reason"],
        suppressed=data.get("suppressed"),  # absent from events an older edgeface kept
    )


class Outbox:
    """A SQLite-backed FIFO of events. Thread-safe; use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path, max_events: int) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        self.path = path
        self.max_events = max_events
        self._lock = threading.Lock()
        # The publisher's network thread acks while the service thread puts; self._lock serialises every use.
        self._db = Database(path, _SCHEMA, OutboxError, name="outbox", check_writable=True)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, event: Event) -> None:
        """Append ``event`` durably; drop the oldest events beyond ``max_events``.

        Putting an event whose id is already waiting keeps the one copy.
        """
        body = _encode(event)
        with self._lock, self._db.transaction(f"store event {event.id}") as db:
            db.execute("INSERT OR IGNORE INTO outbox(id, body) VALUES (?, ?)", (event.id, body))
            count = int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
            dropped = max(0, count - self.max_events)
            if dropped:
                db.execute("DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (dropped,))
        if dropped:
            log.warning(
                "%s: outbox holds more than %d events; dropped the %d oldest undelivered",
                self.path,
                self.max_events,
                dropped,
            )

    def pending(self, limit: int = 100, after: int = 0) -> list[tuple[int, Event]]:
        """Up to ``limit`` waiting events with ``seq > after``, oldest first, as ``(seq, event)``."""
        with self._lock, self._db.guard("read the waiting events") as db:
            rows = db.execute(
                "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        return [(int(seq), _decode(body)) for seq, body in rows]

    def ack(self, event_id: str) -> bool:
        """Remove the event the broker acknowledged; False if it was not waiting (dropped or acked before)."""
        with self._lock, self._db.guard(f"remove delivered event {event_id}") as db:
            cur = db.execute("DELETE FROM outbox WHERE id = ?", (event_id,))
        return cur.rowcount > 0

    def integrity_check(self) -> str:
        """SQLite's own check of the file: ``ok``, or what is wrong."""
        with self._lock:
            return self._db.integrity_check()

    def __len__(self) -> int:
        with self._lock, self._db.guard("count the waiting events") as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
