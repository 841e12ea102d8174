"""One SQLite helper under the people store, the audit log and the outbox: same PRAGMAs, versions and errors."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from edgeface.errors import EdgefaceError, OutboxError, StoreError
from edgeface.storage.audit import AuditLog
from edgeface.storage.outbox import Outbox
from edgeface.storage.people import Store
from edgeface.storage.sqlite import Database, Schema
from edgeface.storage.storefile import SCHEMA
from tests.support.disk import fill, small_filesystem
from tests.support.events import make_event

Opener = Callable[[Path], Store | AuditLog | Outbox]
OPENERS: dict[str, tuple[str, Opener, type[EdgefaceError]]] = {
    "store": ("people.db", Store, StoreError),
    "audit": ("people.db", lambda path: AuditLog(path, retention_days=30), StoreError),
    "outbox": ("outbox.db", lambda path: Outbox(path, max_events=10), OutboxError),
}

# people.db as the release before this helper left it: the store's tables at v1, the audit table unversioned.
V1_PEOPLE_DB = """
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE templates (
    id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    model TEXT NOT NULL, model_sha256 TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,
    source TEXT, photo_sha256 TEXT, created REAL NOT NULL
);
CREATE INDEX templates_model ON templates(model_sha256);
CREATE UNIQUE INDEX templates_photo ON templates(person_id, model_sha256, photo_sha256);
CREATE TABLE face_images (
    template_id INTEGER PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
    jpeg BLOB NOT NULL, created REAL NOT NULL
);
PRAGMA user_version=1;
"""
OLD_AUDIT = """
CREATE TABLE audit (
    id TEXT PRIMARY KEY, epoch REAL NOT NULL, ts TEXT NOT NULL, type TEXT NOT NULL, person TEXT,
    similarity REAL NOT NULL, frames INTEGER NOT NULL, reason TEXT
);
CREATE INDEX audit_epoch ON audit(epoch);
INSERT INTO audit VALUES ('old', strftime('%s', 'now'), '2026-05-09T07:35:00+00:00', 'granted', 'ann', 0.7, 3, NULL);
"""


def sql(path: Path, query: str) -> object:
    """One value from a separate connection: what another process would see in the file."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchone()[0]


def make_file(path: Path, script: str) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with closing(sqlite3.connect(path)) as db:
        db.executescript(script)
    path.chmod(0o600)


def damage(path: Path, table: str) -> None:
    """Overwrite ``table``'s first b-tree page with junk, as a bad sector would; the file's header stays valid."""
    with closing(sqlite3.connect(path)) as db:
        page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xff" * page_size)


# --- one set of PRAGMAs and one schema version ---------------------------------------------------------------


@pytest.mark.parametrize("kind", OPENERS)
def test_every_connection_is_wal_fsynced_on_commit_and_waits_for_locks(tmp_path: Path, kind: str) -> None:
    name, opener, _ = OPENERS[kind]
    with opener(tmp_path / "state" / name) as opened, opened._db.guard("read the PRAGMAs") as db:
        pragmas = {p: db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous", "busy_timeout")}
        foreign_keys = db.execute("PRAGMA foreign_keys").fetchone()[0]
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 10_000}  # 2: FULL
    assert foreign_keys == (kind == "store")  # only the store has foreign keys


def test_the_audit_log_versions_the_file_it_shares_with_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    with AuditLog(path, retention_days=30) as audit:
        audit.record(make_event())
    assert sql(path, "PRAGMA user_version") == SCHEMA.version == 6
    with Store(path) as store:  # the audit log made the whole file: the store finds its tables there
        store.add_template("ann", np.ones(8, np.float32), ("m", "0" * 64))
    with AuditLog(path, retention_days=30) as audit:
        assert len(audit.entries()) == 1


@pytest.mark.parametrize("with_audit", [True, False], ids=["audit-table", "no-audit-table"])
def test_a_people_db_from_the_previous_release_is_migrated_keeping_everything(tmp_path: Path, with_audit: bool) -> None:
    path = tmp_path / "state" / "people.db"
    make_file(path, V1_PEOPLE_DB + (OLD_AUDIT if with_audit else ""))
    with Store(path) as store:
        store.add_template("ann", np.ones(8, np.float32), ("m", "0" * 64))
    assert sql(path, "PRAGMA user_version") == SCHEMA.version
    with AuditLog(path, retention_days=30) as audit:
        audit.record(make_event())
        assert [e.id for e in audit.entries()][:-1] == (["old"] if with_audit else [])


@pytest.mark.parametrize("kind", OPENERS)
def test_a_file_from_a_newer_edgeface_is_refused_in_one_line_and_left_alone(tmp_path: Path, kind: str) -> None:
    name, opener, error = OPENERS[kind]
    path = tmp_path / "state" / name
    make_file(path, "PRAGMA user_version=99")
    with pytest.raises(error) as raised:
        opener(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "schema v99 is newer than this edgeface understands" in message
    assert "\n" not in message
    assert sql(path, "PRAGMA user_version") == 99
    assert sql(path, "SELECT COUNT(*) FROM sqlite_master") == 0, "no table was added to it"


def test_a_negative_schema_version_is_not_edgeface_s(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    make_file(path, "PRAGMA user_version=-3")
    with pytest.raises(StoreError, match=r"people\.db: unknown store schema v-3"):
        AuditLog(path, retention_days=30)


# --- damaged files and failing writes: the subsystem's error, naming the file --------------------------------


@pytest.mark.parametrize("kind", OPENERS)
def test_a_file_that_is_not_a_database_is_refused_naming_it(tmp_path: Path, kind: str) -> None:
    name, opener, error = OPENERS[kind]
    path = tmp_path / "state" / name
    make_file(path, "")
    path.write_bytes(b"not sqlite at all " * 300)
    what = "outbox" if kind == "outbox" else "store"
    with pytest.raises(
        error, match=rf"^{re.escape(str(path))}: not a usable edgeface {what} \(file is not a database\)"
    ):
        opener(path)


def test_a_store_damaged_after_it_was_made_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    with Store(path) as store:
        store.add_template("ann", np.ones(8, np.float32), ("m", "0" * 64))
    damage(path, "people")
    with Store(path) as store, pytest.raises(StoreError, match=r"not a usable edgeface store \(.*malformed\)"):
        store.people()


def test_an_audit_log_damaged_after_it_was_made_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    with AuditLog(path, retention_days=30) as audit:
        audit.record(make_event())
    damage(path, "audit")
    with AuditLog(path, retention_days=30) as audit, pytest.raises(StoreError, match=r"people\.db: not a usable"):
        audit.entries()


def test_an_outbox_damaged_after_it_was_made_raises_outbox_error(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.db"
    with Outbox(path, max_events=10) as outbox:
        outbox.put(make_event())
    damage(path, "outbox")
    with Outbox(path, max_events=10) as outbox, pytest.raises(OutboxError, match=r"outbox\.db: not a usable"):
        outbox.pending()


def test_recording_into_a_broken_audit_log_raises_store_error_not_sqlite3(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    with AuditLog(path, retention_days=30) as audit:
        with closing(sqlite3.connect(path)) as other:
            other.execute("DROP TABLE audit")
        event = make_event()
        with pytest.raises(
            StoreError, match=rf"^{re.escape(str(path))}: cannot record event {event.id} in the audit log \(no such"
        ):
            audit.record(event)


def test_recording_on_a_full_disk_raises_store_error_saying_so(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "state", "1m") as state, AuditLog(state / "people.db", 30) as audit:
        audit.record(make_event())
        fill(state / "filler")

        def record_until_it_fails() -> None:
            for _ in range(100):  # a page or two of slack may be left in the WAL
                audit.record(make_event())

        with pytest.raises(StoreError, match=r"people\.db: cannot record .*: the state directory is full or not"):
            record_until_it_fails()


# --- the helper itself ------------------------------------------------------------------------------------------


def test_a_migration_runs_only_the_missing_steps_in_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.db"
    v1 = "CREATE TABLE t (a INTEGER);"
    # ALTER TABLE is not idempotent: running step 1 or 2 twice would fail. The trigger has ';' inside it.
    v2 = "ALTER TABLE t ADD COLUMN b INTEGER; CREATE TRIGGER t_b AFTER INSERT ON t BEGIN UPDATE t SET b = 1; END;"
    Database(path, Schema("thing", (v1,)), StoreError, name="thing").close()
    with Database(path, Schema("thing", (v1, v2)), StoreError, name="thing") as db, db.transaction("add") as conn:
        conn.execute("INSERT INTO t (a) VALUES (1)")
    assert sql(path, "SELECT b FROM t") == 1
    assert sql(path, "PRAGMA user_version") == 2

    broken = Schema("thing", (v1, v2, "CREATE TABLE u (x); CREATE TABLE u (x);"))
    with pytest.raises(StoreError, match=r"x\.db: cannot open the thing \(table u already exists\)"):
        Database(path, broken, StoreError, name="thing")
    assert sql(path, "PRAGMA user_version") == 2
    assert sql(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'") == 0, "the failed step was rolled back"


def add_row(db: Database, value: int, *more: int, table: str = "t") -> None:
    with db.transaction("add a row") as conn:
        for v in (value, *more):
            conn.execute(f"INSERT INTO {table} VALUES (?)", (v,))


def test_a_lock_held_too_long_by_another_process_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.db"
    schema = Schema("thing", ("CREATE TABLE t (a INTEGER);",))
    with Database(path, schema, OutboxError, name="thing", timeout=0.05) as db, closing(sqlite3.connect(path)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(OutboxError, match=rf"^{re.escape(str(path))}: cannot add a row \(database is locked\)$"):
            add_row(db, 1)
        other.rollback()
        add_row(db, 1)
    assert sql(path, "SELECT COUNT(*) FROM t") == 1


def test_a_failing_transaction_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.db"
    with Database(path, Schema("thing", ("CREATE TABLE t (a INTEGER UNIQUE);",)), StoreError, name="thing") as db:
        with pytest.raises(StoreError, match=r"cannot add a row \(UNIQUE constraint failed"):
            add_row(db, 1, 1)
        assert db.integrity_check() == "ok"
    assert sql(path, "SELECT COUNT(*) FROM t") == 0


def test_a_commit_that_fails_is_rolled_back_and_the_next_transaction_works(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.db"
    schema = Schema(
        "thing",
        (
            "CREATE TABLE p (id INTEGER PRIMARY KEY);"
            "CREATE TABLE c (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);",
        ),
    )
    with Database(path, schema, StoreError, name="thing", foreign_keys=True) as db:
        with pytest.raises(StoreError, match=r"cannot add a row \(FOREIGN KEY constraint failed\)"):
            add_row(db, 7, table="c")  # a deferred key is checked at COMMIT, which fails
        with db.transaction("add a parent and child") as conn:
            conn.execute("INSERT INTO p VALUES (7)")
            conn.execute("INSERT INTO c VALUES (7)")
    assert sql(path, "SELECT COUNT(*) FROM c") == 1


def test_closing_twice_is_fine_and_a_closed_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.db"
    db = Database(path, Schema("thing", ()), StoreError, name="thing")
    db.close()
    db.close()
    with pytest.raises(StoreError, match=rf"^{re.escape(str(path))}: the thing is closed$"), db.guard("read"):
        pass
