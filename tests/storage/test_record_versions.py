"""Record versions in the people store: every change is a new version, and the newer copy always wins."""

from __future__ import annotations

import sqlite3
from datetime import time
from pathlib import Path

import numpy as np

from edgeface.config import Window
from edgeface.errors import StoreError
from edgeface.storage.people import Store
from edgeface.storage.records import Outcome, PersonRecord, TemplateRecord, next_version
from edgeface.storage.sqlite import Database, Schema
from edgeface.storage.storefile import SCHEMA

MODEL = ("edgeface_s", "a" * 64)


def unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def record(name: str, version: int, *seeds: int, deleted: bool = False) -> PersonRecord:
    templates = tuple(TemplateRecord(*MODEL, unit(s)) for s in seeds)
    return PersonRecord(name, version, 1.0, deleted, templates)


def test_each_local_change_gives_the_person_a_higher_version(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL)
        first = store.versions()["ann"]
        store.add_template("ann", unit(2), MODEL)
        second = store.versions()["ann"]
        store.set_rules("ann", ("front",), None)
        third = store.versions()["ann"]
        assert first < second < third
        assert store.remove_person("ann")
        [tombstone] = store.records()
    assert (tombstone.name, tombstone.deleted, tombstone.templates, tombstone.doors) == ("ann", True, (), None)
    assert tombstone.version > third


def test_versions_follow_the_clock_and_never_go_back() -> None:
    assert next_version(0, now=1000.0) == 1_000_000
    assert next_version(5_000_000, now=1000.0) == 5_000_001  # a clock stepped back still moves forward


def test_a_newer_record_replaces_the_person_an_equal_one_changes_nothing_an_older_one_is_stale(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "people.db") as store:
        assert store.apply(record("ann", 10, 1, 2)) is Outcome.APPLIED
        assert store.apply(record("ann", 10, 3)) is Outcome.UNCHANGED
        assert store.apply(record("ann", 9, 4)) is Outcome.STALE
        np.testing.assert_array_equal(store.gallery(MODEL, 8).vectors, np.stack([unit(1), unit(2)]))
        assert store.apply(record("ann", 11, 5)) is Outcome.APPLIED
        np.testing.assert_array_equal(store.gallery(MODEL, 8).vectors, np.stack([unit(5)]))
        assert store.versions() == {"ann": 11}


def test_a_tombstone_removes_the_person_and_an_older_record_cannot_bring_them_back(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        store.apply(record("ann", 10, 1))
        store.apply(record("bob", 10, 2))
        assert store.apply(record("ann", 12, deleted=True)) is Outcome.APPLIED
        assert [p.name for p in store.people(MODEL)] == ["bob"]
        assert store.apply(record("ann", 10, 1)) is Outcome.STALE  # a replay of the old enrolment
        assert [p.name for p in store.people(MODEL)] == ["bob"]
        assert {r.name: r.deleted for r in store.records()} == {"ann": True, "bob": False}


def test_a_record_from_the_broker_never_overwrites_a_newer_local_enrolment(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL)  # version: now, in milliseconds
        older = store.versions()["ann"] - 1
        assert store.apply(record("ann", older, 7)) is Outcome.STALE
        np.testing.assert_array_equal(store.gallery(MODEL, 8).vectors, np.stack([unit(1)]))


def test_records_carry_every_template_with_its_model_and_the_persons_rules(tmp_path: Path) -> None:
    weekdays = Window(days=["mon", "tue"], start=time(8), end=time(18))
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL, photo_sha256="f" * 64)
        store.add_template("ann", unit(2), ("other", "b" * 64))
        store.set_rules("ann", ("front", "back"), (weekdays,))
        [ann] = store.records(["ann"])
        assert store.records(["nobody"]) == []
    assert ann.models() == {MODEL, ("other", "b" * 64)}
    assert ann.templates[0].photo_sha256 == "f" * 64
    np.testing.assert_array_equal(ann.templates[1].vector, unit(2))
    assert (ann.doors, ann.schedule) == (("front", "back"), (weekdays,))
    with Store(tmp_path / "copy.db") as copy:
        assert copy.apply(ann) is Outcome.APPLIED
        [copied] = copy.records()
        assert (copied.version, copied.schedule, len(copied.templates)) == (ann.version, (weekdays,), 2)
        assert copy.access_rules("front") == {"ann": [weekdays]}
        assert copy.access_rules("garage") == {"ann": []}  # not one of ann's doors: never


def test_people_enrolled_before_versions_existed_get_their_enrolment_time(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    path.parent.mkdir(mode=0o700)
    # The file as v2 left it: no versions, no rules table.
    Database(path, Schema("store", SCHEMA.migrations[:2]), StoreError, name="people store").close()
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO people(id, name, created) VALUES (1, 'ann', 1767225600.5)")
        db.execute(
            "INSERT INTO templates(person_id, model, model_sha256, dim, vector, created) VALUES (1, ?, ?, 8, ?, 0)",
            (*MODEL, unit(1).tobytes()),
        )
    db.close()
    with Store(path) as store:
        assert store.versions() == {"ann": 1_767_225_600_500}


def test_only_people_taken_from_the_fleet_are_withheld_and_a_newer_record_or_local_change_releases_them(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "people.db") as store:
        store.apply_many([record("ann", 10, 1), record("bob", 10, 2), record("cy", 10, 3, deleted=True)])
        store.add_template("dee", unit(4), MODEL)
        doubt = {name: "refused" for name in ("ann", "bob", "cy", "dee")}
        assert store.withhold(doubt, set()) == (["ann", "bob"], [])
        assert sorted(store.gallery(MODEL, 8).names) == ["dee"]
        assert store.withhold({}, {"ann"}) == ([], ["ann"])
        store.apply(record("bob", 11, 2))
        assert store.withheld() == {}
        assert store.withhold({"ann": "refused"}, set()) == (["ann"], [])
        store.add_template("ann", unit(5), MODEL)  # re-enrolled here: this device's own word
        assert sorted(store.gallery(MODEL, 8).names) == ["ann", "bob", "dee"]
