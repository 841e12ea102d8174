"""The people store: a private SQLite file whose templates never cross models."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from edgeface.errors import PermissionsError, StaleTemplatesError, StoreError
from edgeface.storage.people import Store

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
