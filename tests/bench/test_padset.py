"""pad-dev's manifest and its development/held-out split by subject."""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest

from edgeface.bench.padset import DEV_SUBJECTS, SPLIT_SEED, Manifest, draw_split, find_manifest, half_of
from edgeface.errors import ConfigError
from tests.support.data import SHARED

PAD_DEV = SHARED / "pad-dev"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.read(PAD_DEV / "manifest.csv")


def test_the_shipped_split_is_the_seeded_draw_over_pad_devs_subjects(manifest: Manifest) -> None:
    by_source: dict[str, set[str]] = collections.defaultdict(set)
    for row in manifest.rows.values():
        by_source[row.source].add(row.subject)
    assert draw_split({k: sorted(v) for k, v in by_source.items()}, SPLIT_SEED) == DEV_SUBJECTS
    held_out = set(manifest.subjects) - DEV_SUBJECTS
    assert set(manifest.subjects) > DEV_SUBJECTS and len(held_out) == 5
    # Both halves hold live faces, prints and replays, so each can be reported on its own.
    for half in ("dev", "held-out"):
        kinds = {row.attack_type.split(" ")[0] for row in manifest.rows.values() if half_of(row.subject) == half}
        assert {"bona", "print", "replay"} <= kinds, half


def test_a_source_that_does_not_know_its_subjects_is_one_subject(manifest: Manifest) -> None:
    sources = {row.subject: row.source for row in manifest.rows.values()}
    assert sources["pyis"] == "pyis" and sources["apfol"] == "apfol" and "unk" not in sources


def test_photos_are_found_by_their_content_whatever_their_name(manifest: Manifest, tmp_path: Path) -> None:
    original = next((PAD_DEV / "spoof" / "replay").iterdir())
    copy = tmp_path / "renamed.png"
    shutil.copyfile(original, copy)
    found = manifest.find(copy)
    assert found is not None and found.attack_type.startswith("replay")
    copy.write_bytes(b"not the same photo")
    assert manifest.find(copy) is None


def test_the_manifest_beside_a_species_folder_is_found() -> None:
    assert find_manifest([PAD_DEV / "spoof" / "print"]) == PAD_DEV / "manifest.csv"
    assert find_manifest([SHARED / "faces"]) is None


def test_a_manifest_without_the_needed_columns_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.csv"
    bad.write_text("file,cls\nreal/a.jpg,real\n")
    with pytest.raises(ConfigError, match=r"manifest\.csv:2: needs source, subject"):
        Manifest.read(bad)
    with pytest.raises(ConfigError, match="cannot read the manifest"):
        Manifest.read(tmp_path / "missing.csv")
