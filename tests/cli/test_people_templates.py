"""``people show``, ``people remove --template`` and ``people rename`` on real photos, each change in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeface.storage.audit import AuditLog
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES

KIDMAN = sorted((FACES / "nicole_kidman").glob("*.jpg"))
CLINTON = FACES / "bill_clinton" / "1.jpg"


def test_a_wrong_template_is_found_by_its_similarity_removed_and_the_person_renamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "enroll", "kidman", *map(str, KIDMAN[:3])) == 0
    assert edgeface(config, "enroll", "kidman", str(CLINTON), "--force") == 0
    capsys.readouterr()

    assert edgeface(config, "people", "show", "kidman", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    rows = shown["templates"]
    assert [r["detail"] for r in rows] == ["1.jpg", "2.jpg", "3.jpg", "1.jpg"] and shown["name"] == "kidman"
    assert {r["source"] for r in rows} == {"photo"} and all(len(r["photo_sha256"]) == 64 for r in rows)
    assert all(0.0 < r["quality"] <= 1.0 for r in rows) and {r["model"] for r in rows} == {"mobilefacenet_int8"}
    odd = min(rows, key=lambda r: r["similarity"])
    assert odd["id"] == rows[-1]["id"] and odd["similarity"] < 0.3 < min(r["similarity"] for r in rows[:3])

    assert edgeface(config, "people", "show", "kidman") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["id", "enrolled", "source", "quality", "similarity", "model"] and len(table) == 5

    assert edgeface(config, "people", "remove", "kidman", "--template", str(odd["id"])) == 0
    assert capsys.readouterr().out == f"removed template {odd['id']} of kidman\n"
    assert edgeface(config, "people", "remove", "kidman", "--template", str(odd["id"])) == 1
    assert f"'kidman' has no template {odd['id']}" in capsys.readouterr().err

    assert edgeface(config, "people", "rename", "kidman", "nicole_kidman") == 0
    assert edgeface(config, "people", "show", "kidmn") == 1
    assert "no enrolled person called 'kidmn'" in capsys.readouterr().err
    with AuditLog(tmp_path / "state" / "people.db", retention_days=365) as audit:
        logged = [(e.type, e.person, e.reason) for e in audit.entries()]
    assert [entry[:2] for entry in logged] == [
        ("enrolled", "kidman"), ("enrolled", "kidman"), ("removed", "kidman"), ("renamed", "nicole_kidman")
    ]  # fmt: skip
    assert logged[2][2] is not None and logged[2][2].startswith(f"template {odd['id']} (1.jpg); by ")
    assert logged[3][2] is not None and logged[3][2].startswith("from kidman; by ")
