"""One way to open, use and close edgeface's SQLite files (the people store with its audit log, the outbox).

Opening a file:

* goes through :func:`~edgeface.storage.fsperm.private_file` first: the file is
  0600 in a 0700 directory, and a wider or foreign-owned one is refused, not fixed;
* sets the same PRAGMAs on every connection: WAL (the daemon reads while the CLI
  writes), ``synchronous=FULL`` (a commit is fsynced before it returns, so a power
  cut loses nothing that was committed), a 10 s busy timeout, and, where the
  caller uses them, foreign keys and ``secure_delete``;
* checks the schema version (``PRAGMA user_version``) against the
  :class:`Schema`: an older file is migrated step by step in one transaction,
  decided under the write lock so two processes opening it at once migrate it
  once; a newer or unknown version is refused with one line naming the file,
  and nothing in it is changed.

Every ``sqlite3.Error`` leaves as the subsystem's own error class (``StoreError``,
``OutboxError``) with one line that names the file, what was being done and
SQLite's reason, plus what it usually means on a door: a full or read-only state
directory, or a damaged file. Callers print that line and never see a raw
``sqlite3`` exception.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from edgeface.errors import EdgefaceError
from edgeface.storage.fsperm import private_file

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 10.0
"""Seconds a statement waits for another connection's write lock before "database is locked"."""

# SQLite's own wording (sqlite3_errstr), matched as text: the error codes are attributes only from Python 3.11.
_UNWRITABLE = ("disk is full", "readonly", "read-only", "disk I/O error", "unable to open")
_DAMAGED = ("file is not a database", "malformed")


@dataclass(frozen=True)
class Schema:
    """The tables of one kind of file, as the steps that built them.

    ``migrations[i]`` is an SQL script that takes a file from version ``i`` to
    ``i + 1``; a new file runs them all. Steps are only ever appended: a
    released step stays as it is, because files out there were made by it.
    """

    kind: str
    """What the file is, in messages: ``store``, ``outbox``."""
    migrations: tuple[str, ...]

    @property
    def version(self) -> int:
        return len(self.migrations)


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one at a time (``executescript`` would commit the open transaction)."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \t\n;"):
                yield statement
            statement = ""


class Database:
    """One SQLite connection to a private file, opened as described above. Use as a context manager or :meth:`close`.

    ``name`` is what the caller holds in the file, for messages (``people store``, ``audit log``, ``outbox``);
    ``error`` is the class every failure is raised as. With ``check_writable`` the schema version is written
    even when current, so a full or read-only disk is refused when the file is opened rather than at its first
    write. The connection may be used from any thread, by one thread at a time (the caller locks if it shares it).
    """

    def __init__(
        self,
        path: Path,
        schema: Schema,
        error: type[EdgefaceError],
        *,
        name: str,
        foreign_keys: bool = False,
        secure_delete: bool = False,
        check_writable: bool = False,
        timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.path = path
        self.schema = schema
        self.name = name
        self._error = error
        self._db: sqlite3.Connection | None = None
        private_file(path)
        try:
            # isolation_level=None: no implicit transactions; writers say BEGIN IMMEDIATE (see transaction()).
            self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if foreign_keys:
                self._db.execute("PRAGMA foreign_keys=ON")
            if secure_delete:
                self._db.execute("PRAGMA secure_delete=ON")
            if self._check_version() < schema.version or check_writable:
                self._migrate()
        except sqlite3.Error as exc:
            self.close()
            raise error(self._message(exc, f"open the {name}")) from exc
        except EdgefaceError:
            self.close()
            raise

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; closing again does nothing."""
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise self._error(f"{self.path}: the {self.name} is closed")
        return self._db

    @contextmanager
    def guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, for statements whose ``sqlite3.Error`` becomes one line saying what ``doing`` failed."""
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            raise self._error(self._message(exc, doing)) from exc

    @contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """:meth:`guard` around ``BEGIN IMMEDIATE``: committed when the block ends, rolled back if it raises."""
        with self.guard(doing) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT leaves it open, and the next BEGIN would fail on that
                    db.execute("ROLLBACK")
                raise

    def integrity_check(self) -> str:
        """SQLite's own check of the file: ``ok``, or what is wrong."""
        with self.guard("check the file") as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def _message(self, exc: sqlite3.Error, doing: str) -> str:
        reason = str(exc)
        if any(s in reason for s in _DAMAGED):
            return f"{self.path}: not a usable edgeface {self.schema.kind} ({reason}); cannot {doing}"
        if any(s in reason for s in _UNWRITABLE):
            reason += ": the state directory is full or not writable"
        return f"{self.path}: cannot {doing} ({reason})"

    def _check_version(self) -> int:
        version = int(self._conn().execute("PRAGMA user_version").fetchone()[0])
        if version > self.schema.version:
            raise self._error(
                f"{self.path}: {self.schema.kind} schema v{version} is newer than this edgeface understands "
                f"(v{self.schema.version}); upgrade edgeface to use it"
            )
        if version < 0:
            raise self._error(f"{self.path}: unknown {self.schema.kind} schema v{version}; not made by edgeface")
        return version

    def _migrate(self) -> None:
        with self.transaction(f"open the {self.name}") as db:
            version = self._check_version()  # again, under the write lock: another process may have migrated it
            for step in self.schema.migrations[version:]:
                for statement in _statements(step):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={self.schema.version}")
        if 0 < version < self.schema.version:
            log.info("%s: %s schema v%d → v%d", self.path, self.schema.kind, version, self.schema.version)
