"""Access rules in the people store: their own table, read without a single template, kept across upgrades."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import time
from pathlib import Path

import numpy as np
import pytest

from edgeface.config import Window
from edgeface.errors import StoreError
from edgeface.storage.people import Store
from edgeface.storage.sqlite import Database, Schema
from edgeface.storage.storefile import SCHEMA

MODEL = ("edgeface_s", "a" * 64)
WEEKDAYS = Window(days=["mon", "tue", "wed", "thu", "fri"], start=time(8), end=time(18))


@contextmanager
def tables_read(store: Store) -> Iterator[set[str]]:
    """The tables SQLite reads for the statements run inside the block, as its authorizer reports them."""
    read: set[str] = set()

    def note(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table is not None:
            read.add(table)
        return sqlite3.SQLITE_OK

    with store._db.guard("watch reads") as db:
        db.set_authorizer(note)
        try:
            yield read
        finally:
            db.set_authorizer(None)


def enrol(store: Store, *names: str) -> None:
    for seed, name in enumerate(names):
        store.add_template(name, np.random.default_rng(seed).normal(size=8).astype(np.float32), MODEL)


def test_a_door_reads_its_rules_without_touching_a_template(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        enrol(store, "ann", "bob", "cy")
        store.set_rules("ann", ("front", "back"), (WEEKDAYS,))
        store.set_rules("bob", ("back",), None)
        with tables_read(store) as read:
            front = store.access_rules("front")
        assert front == {"ann": [WEEKDAYS], "bob": []}  # cy has no rule: let in at every door, always
        assert "templates" not in read and "face_images" not in read
        assert store.access_rules("back") == {"ann": [WEEKDAYS]}


def test_rules_go_with_the_person_and_a_re_enrolment_starts_unrestricted(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        enrol(store, "ann")
        store.set_rules("ann", ("back",), None)
        assert store.remove_person("ann")
        assert store.access_rules("front") == {}
        enrol(store, "ann")
        assert store.access_rules("front") == {}
        [ann] = store.records()
        assert (ann.doors, ann.schedule) == (None, None)
        store.set_rules("ann", ("back",), (WEEKDAYS,))
        store.set_rules("ann", None, None)  # lifting every restriction leaves no rule behind
        assert store.access_rules("front") == {}


def test_rules_for_someone_not_enrolled_are_refused(tmp_path: Path) -> None:
    with (
        Store(tmp_path / "people.db") as store,
        pytest.raises(StoreError, match=r"^no enrolled person called 'nobody'$"),
    ):
        store.set_rules("nobody", ("front",), None)


def v3_store(path: Path) -> None:
    """people.db as the previous release left it: schema v3, rules in the versions table, one tombstone."""
    Database(path, Schema("store", SCHEMA.migrations[:3]), StoreError, name="people store").close()
    schedule = json.dumps([WEEKDAYS.model_dump(mode="json")])
    with closing(sqlite3.connect(path)) as db, db:
        for person_id, name in enumerate(("ann", "bob", "dee"), start=1):
            db.execute("INSERT INTO people(id, name, created) VALUES (?, ?, 1767225600)", (person_id, name))
            db.execute(
                "INSERT INTO templates(person_id, model, model_sha256, dim, vector, created) "
                "VALUES (?, ?, ?, 8, ?, 1767225600)",
                (person_id, *MODEL, np.full(8, person_id, np.float32).tobytes()),
            )
        db.executemany(
            "INSERT INTO person_versions(name, version, updated, deleted, doors, schedule, origin) "
            "VALUES (?, ?, 1767225600, ?, ?, ?, 'local')",
            [
                ("ann", 11, 0, '["front", "back"]', schedule),
                ("bob", 12, 0, None, schedule),
                ("cy", 13, 1, None, None),  # removed
                ("dee", 14, 0, '["back"]', None),
            ],
        )


def test_a_v3_store_is_upgraded_in_place_keeping_rules_versions_and_tombstones(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    path.parent.mkdir(mode=0o700)
    v3_store(path)
    with Store(path) as store:
        assert store.access_rules("front") == {"ann": [WEEKDAYS], "bob": [WEEKDAYS], "dee": []}
        assert store.versions() == {"ann": 11, "bob": 12, "cy": 13, "dee": 14}
        records = {r.name: r for r in store.records()}
        assert {n: (r.deleted, r.doors, len(r.templates)) for n, r in records.items()} == {
            "ann": (False, ("front", "back"), 1),
            "bob": (False, None, 1),
            "cy": (True, None, 0),
            "dee": (False, ("back",), 1),
        }
        np.testing.assert_array_equal(records["dee"].templates[0].vector, np.full(8, 3, np.float32))
        assert store.remove_person("dee")
        assert "dee" not in store.access_rules("front")
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA.version == 6
        columns = [row[1] for row in db.execute("PRAGMA table_info(person_versions)")]
    assert columns == ["name", "version", "updated", "deleted", "origin", "withheld"]  # the rules left the table
