"""Enrolment the door can trust: no name guessed from a file, no wrong face under a name, one face one name.

Real photos of ../shared/faces through the real models and the ``enroll`` command; the store and the
audit log are read back from the SQLite file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeface.ops.naming import person_from_file
from edgeface.storage.audit import AuditLog
from edgeface.storage.people import Store
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES

KIDMAN = sorted((FACES / "nicole_kidman").glob("*.jpg"))
CLINTON = sorted((FACES / "bill_clinton").glob("*.jpg"))
BIDEN = sorted((FACES / "joe_biden").glob("*.jpg"))
JOLIE = sorted((FACES / "angelina_jolie").glob("*.jpg"))


def templates(config: Path) -> dict[str, int]:
    with Store(config.parent / "state" / "people.db") as store:
        return {p.name: p.templates + p.other_templates for p in store.people()}


def changes(config: Path) -> list[tuple[str, str, str]]:
    with AuditLog(config.parent / "state" / "people.db", retention_days=365) as audit:
        return [(e.type, e.person or "", e.reason or "") for e in audit.entries() if e.type in ("enrolled", "removed")]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "edgeface.yaml")


@pytest.mark.parametrize(
    ("stem", "person"),
    [
        ("alice", "alice"),
        ("alice_2", "alice"),
        ("alice-12", "alice"),
        ("john_smith_3", "john_smith"),
        ("lin_manuel_miranda", "lin_manuel_miranda"),
        ("IMG_1234", None),
        ("img_1235", None),
        ("DSC_0001", None),
        ("DSC01234", None),
        ("PXL_20240101_123456789", None),
        ("Screenshot 2024-01-01 at 10.00.00", None),
        ("WhatsApp Image 2024-01-01 at 10.00.00", None),
        ("20240101_123456", None),
        ("0042", None),
        ("bob_2001", None),  # a year or a photo number: not guessed
    ],
)
def test_a_flat_photo_names_its_person_only_where_the_file_name_is_a_name(stem: str, person: str | None) -> None:
    named = person_from_file(stem)
    assert named.person == person
    assert (named.problem == "") == (person is not None)
    if person is None:
        assert "faces/<name>/" in named.problem


def test_camera_exports_are_not_enrolled_as_one_person_and_every_new_name_is_printed(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phone = tmp_path / "phone"
    phone.mkdir()
    shutil.copy(KIDMAN[0], phone / "IMG_1234.jpg")
    shutil.copy(BIDEN[0], phone / "IMG_1235.jpg")
    shutil.copy(KIDMAN[1], phone / "nicole.jpg")
    shutil.copy(KIDMAN[2], phone / "nicole_2.jpg")
    (phone / "joe").mkdir()
    shutil.copy(BIDEN[1], phone / "joe" / "1.jpg")

    assert edgeface(config, "enroll", "--from-dir", str(phone), "--dry-run") == 0
    out, err = capsys.readouterr()
    assert "would add new: joe, nicole" in out and "would enrol 3 photo(s), skipped 2" in out
    for stem in ("IMG_1234", "IMG_1235"):
        assert f"skipped {phone / stem}.jpg: no name — '{stem}' is a camera's file name" in err
    assert "put it in faces/<name>/" in err
    assert templates(config) == {}, "a dry run writes nothing"

    assert edgeface(config, "enroll", "--from-dir", str(phone), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["created"], data["extended"], data["enrolled"]) == (["joe", "nicole"], [], 3)
    assert {s["photo"]: s["outcome"] for s in data["skipped"]} == {
        str(phone / "IMG_1234.jpg"): "no name", str(phone / "IMG_1235.jpg"): "no name"
    }  # fmt: skip
    assert templates(config) == {"joe": 1, "nicole": 2}

    shutil.copy(KIDMAN[3], phone / "nicole_3.jpg")
    assert edgeface(config, "enroll", "--from-dir", str(phone)) == 0
    assert "added more photos of: nicole" in capsys.readouterr().out


def test_a_photo_of_someone_else_is_not_added_to_a_person_unless_forced_and_audited(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "enroll", "bill_clinton", *map(str, CLINTON[:3])) == 0
    assert edgeface(config, "enroll", "nicole_kidman", *map(str, KIDMAN[:3])) == 0
    capsys.readouterr()

    assert edgeface(config, "enroll", "nicole_kidman", str(CLINTON[4])) == 1
    err = capsys.readouterr().err
    assert f"skipped {CLINTON[4]}: not this person — looks like bill_clinton (0." in err
    assert "not nicole_kidman (" in err and "--force enrols it anyway" in err
    assert templates(config) == {"bill_clinton": 3, "nicole_kidman": 3}

    assert edgeface(config, "enroll", "nicole_kidman", str(KIDMAN[3])) == 0, "her own photo is taken"
    assert edgeface(config, "enroll", "nicole_kidman", str(CLINTON[4]), "--force", "--json") == 0
    data = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert data["extended"] == ["nicole_kidman"] and data["overridden"][0]["resembles"]["person"] == "bill_clinton"
    assert templates(config) == {"bill_clinton": 3, "nicole_kidman": 5}
    forced = changes(config)[-1]
    assert forced[:2] == ("enrolled", "nicole_kidman")
    assert "--force over: looks like bill_clinton (0." in forced[2] and "; by " in forced[2]


def test_photos_of_one_name_in_one_command_must_agree(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert edgeface(config, "enroll", "pair", str(KIDMAN[0]), str(BIDEN[0])) == 1
    assert "the photos of pair do not agree" in capsys.readouterr().err
    assert templates(config) == {}

    assert edgeface(config, "enroll", "nicole", *map(str, KIDMAN[:3]), str(BIDEN[0])) == 0
    err = capsys.readouterr().err
    assert f"skipped {BIDEN[0]}: photos disagree — does not look like the other photos of nicole" in err
    assert templates(config) == {"nicole": 3}


def test_a_face_already_enrolled_is_refused_under_a_second_name_unless_allowed(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "enroll", "meryl_streep", *map(str, KIDMAN[:2])) == 0
    capsys.readouterr()
    assert edgeface(config, "enroll", "Meryl Streep", str(KIDMAN[2]), str(KIDMAN[3])) == 1
    err = capsys.readouterr().err
    assert f"skipped {KIDMAN[2]}: enrolled under another name — already enrolled as meryl_streep (0." in err
    assert "--allow-similar enrols it anyway" in err
    assert templates(config) == {"meryl_streep": 2}

    assert edgeface(config, "enroll", "twin", str(KIDMAN[2]), "--allow-similar") == 0
    assert templates(config) == {"meryl_streep": 2, "twin": 1}
    assert "--allow-similar over: already enrolled as meryl_streep (0." in changes(config)[-1][2]

    assert edgeface(config, "people", "remove", "twin") == 0
    assert changes(config)[-1][:2] == ("removed", "twin") and changes(config)[-1][2].startswith("1 template(s); by ")
    capsys.readouterr()
    assert edgeface(config, "log") == 0
    logged = [line.split()[1:3] for line in capsys.readouterr().out.splitlines()]
    assert logged == [["enrolled", "meryl_streep"], ["enrolled", "twin"], ["removed", "twin"]]


def test_the_camera_does_not_enrol_someone_already_enrolled_under_a_new_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for photo in JOLIE[3:10]:
        shutil.copy(photo, frames / photo.name)
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(frames), "fps": 4, "loop": False})
    assert edgeface(config, "enroll", "jolie", *map(str, JOLIE[:3])) == 0
    capsys.readouterr()
    assert edgeface(config, "enroll", "testcam", "--camera", "--count", "2", "--timeout", "20") == 1
    assert "edgeface: error: testcam: not enrolled: already enrolled as jolie (0." in capsys.readouterr().err
    assert templates(config) == {"jolie": 3}


def test_within_one_folder_a_face_under_a_second_name_is_refused_against_the_people_enrolled_before_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faces = tmp_path / "faces"
    for name, photos in (("meryl_streep", KIDMAN[:2]), ("Meryl Streep", KIDMAN[2:4]), ("bill", CLINTON[:2])):
        (faces / name).mkdir(parents=True)
        for photo in photos:
            shutil.copy(photo, faces / name / photo.name)
    assert edgeface(config, "enroll", "--from-dir", str(faces), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created"] == ["Meryl Streep", "bill"]  # folders in name order: "M" before "b" before "m"
    assert [(s["name"], s["outcome"]) for s in data["skipped"]] == [("meryl_streep", "enrolled under another name")] * 2
    assert all("already enrolled as Meryl Streep (0." in s["reason"] for s in data["skipped"])
    assert templates(config) == {"Meryl Streep": 2, "bill": 2}
