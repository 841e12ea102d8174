"""The nonces of signed commands already accepted: the replay window, kept across restarts.

A signed command (:mod:`edgeface.mqtt.commands`) is acted on only if its nonce was never accepted
before. Kept in memory only, that rule would end at every restart: a captured command would open
the door again while its timestamp is still fresh. :class:`NonceFile` therefore records each nonce
in a small SQLite file (``nonces.db`` in the state directory, 0600, ``synchronous=FULL``) and
commits it *before* :meth:`NonceLog.claim` returns, so before the command is queued; a crash after
the commit costs at most that one command, never a second opening.

A nonce is remembered until its command's ``until`` (its timestamp plus ``max_age_seconds``: after
that the timestamp alone refuses it) and then for :data:`KEEP_AFTER_EXPIRY` more, so a wall clock
that is stepped back (a Raspberry Pi without a real-time clock, then NTP) does not make an old
command fresh *and* forgotten at once. At most ``limit`` nonces may be within their ``until`` at
once; past that every new one is refused (fail closed), and only holders of the secret can get
that far. :class:`MemoryNonces` is the same rules without the file, for tests and for the
in-memory publisher.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from edgeface.errors import NonceLogError
from edgeface.storage.sqlite import Database, Schema

__all__ = ["KEEP_AFTER_EXPIRY", "Claim", "MemoryNonces", "NonceFile", "NonceLog", "NonceLogError"]

log = logging.getLogger(__name__)

KEEP_AFTER_EXPIRY = 86_400.0
"""Seconds a nonce is kept after its command went stale: the largest backward clock step still covered."""

Claim = Literal["fresh", "replayed", "full"]
"""``fresh``: first use, now recorded; ``replayed``: accepted before; ``full``: too many at once, refused."""

_NONCES = """
CREATE TABLE IF NOT EXISTS nonce (
    nonce TEXT PRIMARY KEY,
    until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonce_until ON nonce(until);
"""
_SCHEMA = Schema("nonce log", (_NONCES,))
"""v1: each accepted nonce and when its command goes stale."""


class NonceLog(Protocol):
    """Where accepted nonces are kept."""

    def claim(self, nonce: str, until: float, *, now: float, limit: int) -> Claim:
        """Record ``nonce`` (its command is fresh until ``until``) unless it was seen or ``limit`` are live."""
        ...


class MemoryNonces:
    """The rules of :class:`NonceFile` in a dict: forgotten at exit."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def claim(self, nonce: str, until: float, *, now: float, limit: int) -> Claim:
        self._until = {n: t for n, t in self._until.items() if t >= now - KEEP_AFTER_EXPIRY}
        if nonce in self._until:
            return "replayed"
        if sum(t >= now for t in self._until.values()) >= limit:
            return "full"
        self._until[nonce] = until
        return "fresh"


class NonceFile:
    """Accepted nonces in a private SQLite file; a claim is on disk before it returns.

    One thread at a time (paho's network thread claims every command). Use as a context manager or
    call :meth:`close`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # check_writable: a full or read-only state directory stops the daemon at start, not at the first command.
        self._db = Database(path, _SCHEMA, NonceLogError, name="nonce log", check_writable=True)

    def __enter__(self) -> NonceFile:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def claim(self, nonce: str, until: float, *, now: float, limit: int) -> Claim:
        with self._db.transaction("record a command nonce") as db:
            db.execute("DELETE FROM nonce WHERE until < ?", (now - KEEP_AFTER_EXPIRY,))
            if db.execute("SELECT 1 FROM nonce WHERE nonce = ?", (nonce,)).fetchone() is not None:
                return "replayed"
            if int(db.execute("SELECT COUNT(*) FROM nonce WHERE until >= ?", (now,)).fetchone()[0]) >= limit:
                return "full"
            db.execute("INSERT INTO nonce(nonce, until) VALUES (?, ?)", (nonce, until))
        return "fresh"

    def __len__(self) -> int:
        with self._db.guard("count the command nonces") as db:
            return int(db.execute("SELECT COUNT(*) FROM nonce").fetchone()[0])
