"""Templates you can see and fix: each one's origin and quality, one removed, a person renamed for the fleet.

Real SQLite files; a store of the previous release (schema v5) is upgraded in place.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from edgeface.errors import StoreError
from edgeface.storage.people import NewTemplate, Store
from edgeface.storage.sqlite import Database, Schema
from edgeface.storage.storefile import SCHEMA

MODEL = ("m", "0" * 64)


def vector(seed: int) -> np.ndarray:
    return np.full(8, seed, np.float32)


def test_a_v5_store_is_upgraded_in_place_and_its_templates_have_no_quality(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    path.parent.mkdir(mode=0o700)
    Database(path, Schema("store", SCHEMA.migrations[:5]), StoreError, name="people store").close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO people(id, name, created) VALUES (1, 'ann', 1767225600)")
        db.execute(
            "INSERT INTO templates(person_id, model, model_sha256, dim, vector, source, photo_sha256, created) "
            "VALUES (1, ?, ?, 8, ?, 'ann.jpg', 'ab', 1767225600)",
            (*MODEL, vector(1).tobytes()),
        )
    with Store(path) as store:
        (old,) = store.templates("ann")
        assert (old.id, old.source, old.photo_sha256, old.quality, old.created) == (
            1,
            "ann.jpg",
            "ab",
            None,
            1767225600,
        )
        np.testing.assert_array_equal(old.vector, vector(1))
        store.add_templates("ann", MODEL, [NewTemplate(vector(2), "camera 5.000", "cd", quality=0.42)])
        assert [(t.source, t.quality) for t in store.templates("ann")] == [("ann.jpg", None), ("camera 5.000", 0.42)]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA.version == 6


def test_one_template_is_removed_as_a_new_version_and_never_the_last(tmp_path: Path) -> None:
    with Store(tmp_path / "state" / "people.db") as store:
        first, second = store.add_templates(
            "ann", MODEL, [NewTemplate(vector(1), "a.jpg", "a"), NewTemplate(vector(2), "b.jpg", "b")]
        )
        assert first is not None and second is not None
        before = store.versions()["ann"]
        store.remove_template("ann", second)
        assert [t.id for t in store.templates("ann")] == [first] and store.versions()["ann"] > before
        with pytest.raises(StoreError, match=f"'ann' has no template {second} \\(theirs: {first}\\)"):
            store.remove_template("ann", second)
        with pytest.raises(StoreError, match="is ann's last: remove the person instead"):
            store.remove_template("ann", first)


def test_a_rename_keeps_the_templates_and_leaves_a_tombstone_for_the_fleet(tmp_path: Path) -> None:
    with Store(tmp_path / "state" / "people.db") as store:
        store.add_templates("ann", MODEL, [NewTemplate(vector(1), "a.jpg", "a")])
        store.add_templates("bob", MODEL, [NewTemplate(vector(2), "b.jpg", "b")])
        store.set_rules("ann", ("front",), None)
        before = store.versions()["ann"]
        assert store.rename("ann", "anna ") == "anna"
        records = {r.name: r for r in store.records()}
        # The tombstone is newer than the record it replaces, so every door of the fleet applies it.
        assert records["ann"].deleted and not records["ann"].templates and records["ann"].version > before
        assert not records["anna"].deleted and records["anna"].doors == ("front",)
        np.testing.assert_array_equal(records["anna"].templates[0].vector, vector(1))
        with pytest.raises(StoreError, match="'bob' is already enrolled"):
            store.rename("anna", "bob")
        with pytest.raises(StoreError, match="'Bob' looks like the enrolled person 'bob'"):
            store.rename("anna", "Bob")
        assert store.rename("bob", "Bob") == "Bob", "a new spelling of one's own name is no look-alike"
        with pytest.raises(StoreError, match="no enrolled person called 'ann'"):
            store.rename("ann", "carl")
