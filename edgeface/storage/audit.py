"""The audit log: every door decision (who, when, how sure, how many frames) in the people store.

It shares the store's SQLite file (its own table, its own connection) so that a
backup of ``people.db`` holds both who may enter and who did. Entries older
than the retention period are purged when the log is opened and daily after.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

from edgeface.errors import StoreError
from edgeface.storage.fsperm import private_file
from edgeface.values import Event

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    epoch REAL NOT NULL,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    person TEXT,
    similarity REAL NOT NULL,
    frames INTEGER NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS audit_epoch ON audit(epoch);
"""
_PURGE_EVERY = 86400.0
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class AuditEntry:
    id: str
    ts: str
    type: str
    person: str | None
    similarity: float
    frames: int
    reason: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "ts": self.ts,
            "type": self.type,
            "person": self.person,
            "similarity": self.similarity,
            "frames": self.frames,
            "reason": self.reason,
        }


def parse_since(text: str, now: float | None = None) -> float:
    """``30m``, ``12h``, ``7d``, ``2w`` ago, or an ISO date/time (UTC unless it says otherwise) → epoch seconds."""
    now = time.time() if now is None else now
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise StoreError(f"--since {text!r}: use a duration like 12h or 7d, or a date like 2026-11-25T08:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


class AuditLog:
    def __init__(self, path: Path, retention_days: float) -> None:
        private_file(path)
        self.path = path
        self.retention = timedelta(days=retention_days).total_seconds()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the audit log ({exc})") from exc
        self._next_purge = 0.0
        self.purge()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: audit log is closed")
        return self._db

    def record(self, event: Event) -> None:
        db = self._conn()
        with db:
            db.execute(
                "INSERT OR IGNORE INTO audit(id, epoch, ts, type, person, similarity, frames, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    time.time(),
                    event.ts,
                    event.type.value,
                    event.person,
                    round(event.similarity, 4),
                    event.frames,
                    event.reason,
                ),
            )
        if time.monotonic() >= self._next_purge:
            self.purge()

    def purge(self, now: float | None = None) -> int:
        """Delete entries older than the retention period; returns how many."""
        now = time.time() if now is None else now
        db = self._conn()
        with db:
            deleted = db.execute("DELETE FROM audit WHERE epoch < ?", (now - self.retention,)).rowcount
        self._next_purge = time.monotonic() + _PURGE_EVERY
        if deleted:
            log.info("audit log: purged %d entries older than %.0f days", deleted, self.retention / 86400)
        return int(deleted)

    def entries(self, since: float | None = None, person: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """Newest last; at most ``limit`` of the most recent matching entries."""
        query = "SELECT id, ts, type, person, similarity, frames, reason FROM audit WHERE epoch >= ?"
        args: list[object] = [since if since is not None else 0.0]
        if person is not None:
            query += " AND person = ?"
            args.append(person)
        query += " ORDER BY epoch DESC LIMIT ?"
        args.append(limit)
        rows = self._conn().execute(query, args).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]
