"""The people store: a private SQLite file whose templates never cross models."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from edgeface.errors import PermissionsError, StaleTemplatesError, StoreError
from edgeface.storage.people import NewTemplate, Store

MODEL_A = ("mobilefacenet_int8", "a" * 64)
MODEL_B = ("facenet_casia", "b" * 64)


def unit(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_the_store_is_a_private_file_in_a_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "people.db"
    with Store(path) as store:
        store.add_template("ann", unit(0), MODEL_A)
        for f in path.parent.iterdir():  # the WAL and shared-memory files too
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_templates_round_trip_through_sqlite_grouped_by_person(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL_A, source="1.jpg")
        store.add_template("ann", unit(2), MODEL_A, source="2.jpg")
        store.add_template("bob", unit(3), MODEL_A)
    with Store(tmp_path / "people.db") as store:
        gallery = store.gallery(MODEL_A, 8)
        assert gallery.names == ("ann", "bob")
        np.testing.assert_array_equal(gallery.vectors[1], unit(2))
        assert [(p.name, p.templates) for p in store.people(MODEL_A)] == [("ann", 2), ("bob", 1)]


def test_enrolling_the_same_photo_twice_adds_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        assert store.add_template("ann", unit(1), MODEL_A, photo_sha256="f" * 64) is not None
        assert store.add_template("ann", unit(1), MODEL_A, photo_sha256="f" * 64) is None
        assert store.people(MODEL_A)[0].templates == 1


def test_a_model_swap_refuses_stale_templates_with_a_clear_message(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL_A)
        with pytest.raises(StaleTemplatesError, match=r"another model.*re-enrol"):
            store.gallery(MODEL_B, 8)
        assert store.people(MODEL_B)[0].other_templates == 1


def test_people_from_another_model_are_left_out_of_a_mixed_gallery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL_A)
        store.add_template("bob", unit(2, 16), MODEL_B)
        assert store.gallery(MODEL_A, 8).names == ("ann",)
    assert "bob" in caplog.text


def test_removing_a_person_removes_their_templates_and_images(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db", keep_images=True) as store:
        store.add_template("ann", unit(1), MODEL_A, jpeg=b"\xff\xd8jpeg")
        assert store.image_count() == 1
        assert store.remove_person("ann") is True
        assert store.remove_person("ann") is False
        assert store.people() == [] and store.image_count() == 0


def test_face_images_are_not_kept_unless_asked(tmp_path: Path) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template("ann", unit(1), MODEL_A, jpeg=b"\xff\xd8jpeg")
        assert store.image_count() == 0


@pytest.mark.parametrize("name", ["", "../etc", "a" * 65, "bad\nname"])
def test_unusable_names_are_refused(tmp_path: Path, name: str) -> None:
    with Store(tmp_path / "people.db") as store, pytest.raises(StoreError, match="invalid person name"):
        store.add_template(name, unit(1), MODEL_A)


def test_a_world_readable_store_is_refused_not_silently_changed(tmp_path: Path) -> None:
    path = tmp_path / "people.db"
    Store(path).close()
    path.chmod(0o644)
    with pytest.raises(PermissionsError, match="0644"):
        Store(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_file_that_is_not_a_store_gives_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "people.db"
    path.write_bytes(os.urandom(4096))
    path.chmod(0o600)
    with pytest.raises(StoreError, match="not a usable edgeface store"):
        Store(path)


def test_a_persons_templates_are_added_in_one_transaction_all_or_none(tmp_path: Path) -> None:
    broken = NewTemplate(np.array(["not", "a", "vector"]))  # fails inside the transaction, after two inserts
    with Store(tmp_path / "people.db") as store:
        with pytest.raises(ValueError, match="could not convert string to float"):
            store.add_templates("ann", MODEL_A, [NewTemplate(unit(1)), NewTemplate(unit(2)), broken])
        assert store.people() == []
        assert store.add_templates("ann", MODEL_A, [NewTemplate(unit(1), photo_sha256="1" * 64)] * 2) == [1, None]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Cope", "'Cope' looks like the enrolled person 'cope'"),
        ("\u0441ope", "mixes Cyrillic and Latin letters"),  # Cyrillic "с"
        ("\u0441\u043e\u0440\u0435", "looks like the enrolled person 'cope'"),  # all Cyrillic, still drawn "cope"
    ],
    ids=["case", "mixed-script", "all-cyrillic"],
)
def test_look_alikes_of_an_enrolled_name_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    with Store(tmp_path / "people.db") as store:
        store.add_template(" cope ", unit(1), MODEL_A)
        with pytest.raises(StoreError, match=problem):
            store.add_template(name, unit(2), MODEL_A)
        store.add_template("\u0410\u043d\u043d\u0430", unit(3), MODEL_A)  # Анна: Cyrillic only, and unlike any other
        assert [p.name for p in store.people()] == ["cope", "\u0410\u043d\u043d\u0430"]
        assert store.remove_person("cope ") and [p.name for p in store.people()] == ["\u0410\u043d\u043d\u0430"]
