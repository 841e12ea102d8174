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
a lock: writes are tiny and SQLite serialises them anyway.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from pathlib import Path
from types import TracebackType

from edgeface.errors import OutboxError
from edgeface.storage.fsperm import private_file
from edgeface.values import Event, EventType

__all__ = ["Outbox", "OutboxError"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
"""
_SCHEMA_VERSION = 1


def _why(exc: sqlite3.Error) -> str:
    """SQLite's complaint, with what it usually means for a daemon's state directory."""
    text = str(exc)
    if any(s in text for s in ("disk is full", "readonly", "read-only", "disk I/O error", "unable to open")):
        return f"{text}: the state directory is full or not writable"
    return text


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
    )


class Outbox:
    """A SQLite-backed FIFO of events. Thread-safe; use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path, max_events: int) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        self.path = path
        self.max_events = max_events
        self._lock = threading.Lock()
        private_file(path)
        try:
            # check_same_thread=False: the publisher's network thread acks while the service thread puts;
            # self._lock serialises every use of the connection.
            self._db: sqlite3.Connection | None = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise OutboxError(f"{path}: outbox schema v{version} is newer than this edgeface understands")
            self._db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={_SCHEMA_VERSION}; COMMIT;")
        except sqlite3.OperationalError as exc:
            self.close()
            raise OutboxError(f"{path}: cannot open the outbox ({_why(exc)})") from exc
        except sqlite3.DatabaseError as exc:
            self.close()
            raise OutboxError(f"{path}: not a usable edgeface outbox ({exc})") from exc
        except OutboxError:
            self.close()
            raise

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            db, self._db = getattr(self, "_db", None), None
            if db is not None:
                db.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"{self.path}: outbox is closed")
        return self._db

    def put(self, event: Event) -> None:
        """Append ``event`` durably; drop the oldest events beyond ``max_events``.

        Putting an event whose id is already waiting keeps the one copy.
        """
        body = _encode(event)
        with self._lock:
            db = self._conn()
            try:
                with db:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("INSERT OR IGNORE INTO outbox(id, body) VALUES (?, ?)", (event.id, body))
                    count = int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
                    dropped = max(0, count - self.max_events)
                    if dropped:
                        db.execute(
                            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (dropped,)
                        )
            except sqlite3.Error as exc:
                raise OutboxError(f"{self.path}: cannot store event {event.id} ({_why(exc)})") from exc
        if dropped:
            log.warning(
                "%s: outbox holds more than %d events; dropped the %d oldest undelivered",
                self.path,
                self.max_events,
                dropped,
            )

    def pending(self, limit: int = 100, after: int = 0) -> list[tuple[int, Event]]:
        """Up to ``limit`` waiting events with ``seq > after``, oldest first, as ``(seq, event)``."""
        with self._lock:
            rows = (
                self._conn()
                .execute("SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))
                .fetchall()
            )
        return [(int(seq), _decode(body)) for seq, body in rows]

    def ack(self, event_id: str) -> bool:
        """Remove the event the broker acknowledged; False if it was not waiting (dropped or acked before)."""
        with self._lock:
            db = self._conn()
            try:
                with db:
                    cur = db.execute("DELETE FROM outbox WHERE id = ?", (event_id,))
            except sqlite3.Error as exc:
                raise OutboxError(f"{self.path}: cannot remove delivered event {event_id} ({_why(exc)})") from exc
        return cur.rowcount > 0

    def integrity_check(self) -> str:
        """SQLite's own check of the file: ``ok``, or what is wrong."""
        with self._lock:
            rows = self._conn().execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
