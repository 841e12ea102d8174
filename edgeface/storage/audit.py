"""The audit log: every door decision (who, when, how sure, how many frames) in the people store,
and every change to who may enter (an enrolment, a removal, a rename: who made it and what changed).

It shares the store's SQLite file (its own table, its own connection) so that a
backup of ``people.db`` holds both who may enter and who did. Entries older
than the retention period are purged when the log is opened and daily after.

The table is part of that file's schema (:data:`edgeface.storage.storefile.SCHEMA`),
so the log refuses a file a newer edgeface wrote, and its commits are fsynced
(``synchronous=FULL``) like the store's: a decision logged is a decision kept.
Every SQLite failure, in :meth:`AuditLog.record` too, is a :class:`StoreError`
naming the file, never a raw ``sqlite3`` error in the door's loop.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

from edgeface.errors import StoreError
from edgeface.storage.sqlite import Database
from edgeface.storage.storefile import SCHEMA
from edgeface.values import Event

log = logging.getLogger(__name__)

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


CHANGE_TYPES = ("enrolled", "removed", "renamed")
"""Entry types of changes to the people store, beside the decisions' ``granted``/``denied``/``unknown``."""


@dataclass(frozen=True)
class Change:
    """A change to who may enter, as the audit log keeps it: ``frames`` holds the templates it concerns."""

    type: str
    """One of :data:`CHANGE_TYPES`."""
    person: str
    detail: str
    """What changed, and any check that was overridden (``--force``: looks like bill_clinton (0.71)...)."""
    by: str
    """Who made it: the user (and the user behind sudo), or ``fleet`` for a record taken from the site."""
    templates: int = 0
    similarity: float = 0.0
    """The similarity an overridden check was about; 0 when none was."""


def local_user() -> str:
    """Who runs this command, as the audit log names them: ``root (sudo by alice)``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid says who
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo by {sudo})" if sudo and sudo != user else user


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
        self.path = path
        self.retention = timedelta(days=retention_days).total_seconds()
        self._db = Database(path, SCHEMA, StoreError, name="audit log")
        self._next_purge = 0.0
        try:
            self.purge()
        except StoreError:
            self.close()
            raise

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, event: Event) -> None:
        """Log one decision; raises StoreError if it cannot be stored."""
        with self._db.guard(f"record event {event.id} in the audit log") as db:
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

    def record_change(self, change: Change) -> None:
        """Log one change to the people store; raises StoreError if it cannot be stored."""
        now = time.time()
        ts = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._db.guard(f"record the change to {change.person} in the audit log") as db:
            db.execute(
                "INSERT INTO audit(id, epoch, ts, type, person, similarity, frames, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(uuid.uuid4()),
                    now,
                    ts,
                    change.type,
                    change.person,
                    round(change.similarity, 4),
                    change.templates,
                    f"{change.detail}; by {change.by}",
                ),
            )

    def purge(self, now: float | None = None) -> int:
        """Delete entries older than the retention period; returns how many."""
        now = time.time() if now is None else now
        with self._db.guard("purge old entries from the audit log") as db:
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
        with self._db.guard("read the audit log") as db:
            rows = db.execute(query, args).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]

    def people(self) -> list[str]:
        """Every person named in the log, sorted: what ``log --person`` can find."""
        with self._db.guard("read the audit log") as db:
            rows = db.execute("SELECT DISTINCT person FROM audit WHERE person IS NOT NULL ORDER BY person").fetchall()
        return [str(row[0]) for row in rows]
