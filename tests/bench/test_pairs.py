"""``edgeface bench pairs``: LFW's pairs.txt protocol, each fold scored at a threshold chosen on the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeface.bench.pairs import parse_pairs, photo_path
from edgeface.errors import ConfigError
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES

PEOPLE = ("barack_obama", "joe_biden", "nicole_kidman", "bill_clinton", "angelina_jolie", "venus_williams")


def pairs_file(path: Path) -> Path:
    """Two folds from ../shared/faces, each with 4 matched and 4 mismatched pairs."""
    lines = ["2\t4"]
    for fold in range(2):
        people = PEOPLE[fold * 3 : fold * 3 + 3]
        lines += [f"{people[0]}\t1\t2", f"{people[1]}\t1\t2", f"{people[2]}\t1\t3", f"{people[0]}\t2\t3"]
        lines += [
            f"{people[0]}\t1\t{people[1]}\t1",
            f"{people[1]}\t2\t{people[2]}\t2",
            f"{people[2]}\t1\t{people[0]}\t3",
            f"{people[0]}\t2\t{people[2]}\t3",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pairs_of_real_photos_are_verified_fold_by_fold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = pairs_file(tmp_path / "pairs.txt")
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "bench", "pairs", "--pairs", str(pairs), "--root", str(FACES), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["folds"], report["pairs"], report["no_face"]) == (2, 16, 0)
    assert len(report["fold_accuracy"]) == 2 and report["accuracy"] >= 0.85
    assert report["accuracy"] == pytest.approx(sum(report["fold_accuracy"]) / 2, abs=1e-4)


def test_the_lfw_file_naming_is_used_where_it_exists(tmp_path: Path) -> None:
    person = tmp_path / "Ann_Example"
    person.mkdir()
    (person / "Ann_Example_0002.jpg").write_bytes((FACES / "barack_obama" / "1.jpg").read_bytes())
    (person / "Ann_Example_0001.jpg").write_bytes((FACES / "barack_obama" / "2.jpg").read_bytes())
    assert photo_path(tmp_path, "Ann_Example", 2).name == "Ann_Example_0002.jpg"
    assert photo_path(FACES, "barack_obama", 3).name == "3.jpg", "else the i-th photo in sorted order"
    with pytest.raises(ConfigError, match="no photo 9 of barack_obama"):
        photo_path(FACES, "barack_obama", 9)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", ":1: expected '<folds> <pairs per fold>'"),
        ("1\t1\nann\t1\t2\n", "need 2 lines"),
        ("1\t1\nann\t1\nbob\t1\tcarl\t2\n", ":2: expected a matched pair"),
        ("1\t1\nann\t1\t2\nbob\t1\tcarl\n", ":3: expected a mismatched pair"),
    ],
)
def test_a_malformed_pairs_file_names_the_line(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        parse_pairs(text, "pairs.txt")
