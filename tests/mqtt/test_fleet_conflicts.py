"""One face, one name across a fleet: a record is not merged over a face the door enrolled under another name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edgeface.mqtt.conflicts import RecordConflicts
from edgeface.mqtt.fleet import HmacKey, encode_record
from edgeface.mqtt.intake import Intake, Message
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.people import Store
from edgeface.storage.records import Outcome
from edgeface.vision.recognize import Recognizer
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES
from tests.support.models import make_config

KEY = HmacKey(b"site-key-0123456789abcdef")
KIDMAN = sorted((FACES / "nicole_kidman").glob("*.jpg"))
CLINTON = sorted((FACES / "bill_clinton").glob("*.jpg"))


def test_a_fleet_record_of_a_face_enrolled_here_under_another_name_is_refused_and_logged(
    recognizer: Recognizer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tmp_path / "admin" / "people.db") as admin:
        assert all(
            not r.refused for r in enroll_photos(recognizer, admin, [("meryl", KIDMAN[2]), ("bill", CLINTON[0])])
        )
        records = admin.records()
    messages = [Message(*encode_record(r, "office", KEY)) for r in records]

    with Store(tmp_path / "door" / "people.db") as door:
        assert all(not r.refused for r in enroll_photos(recognizer, door, [("nicole", p) for p in KIDMAN[:2]]))
        cfg = make_config(tmp_path / "door")
        check = RecordConflicts.from_config(cfg, door, recognizer.model_id)
        intake = Intake(door, "office", KEY, recognizer.model_id, check)
        taken = intake.take(messages)
        by_name = dict(zip((r.name for r in records), taken.outcomes, strict=True))
        assert by_name == {"bill": Outcome.APPLIED, "meryl": None}
        assert (intake.applied, intake.refused) == (1, 1)
        assert {p.name for p in door.people()} == {"nicole", "bill"}
    assert "one face, one name: already enrolled as nicole (0." in caplog.text


def test_records_from_the_fleet_are_checked_against_the_doors_own_enrolments_only(
    recognizer: Recognizer, tmp_path: Path
) -> None:
    with Store(tmp_path / "admin" / "people.db") as admin:
        list(enroll_photos(recognizer, admin, [("ann", KIDMAN[0])]))
        (ann,) = admin.records(["ann"])
    twin = replace(ann, name="ann_twin")  # the admin enrolled her twin with --allow-similar: the site's decision
    with Store(tmp_path / "door" / "people.db") as door:
        check = RecordConflicts.from_config(make_config(tmp_path / "door"), door, recognizer.model_id)
        assert door.apply(ann) is Outcome.APPLIED
        assert check([twin]) == {}, "ann came from the fleet too"
        list(enroll_photos(recognizer, door, [("annie", KIDMAN[1])]))  # hers, but refused as ann's face...
        assert {p.name for p in door.people()} == {"ann"}
        door.remove_person("ann")
        list(enroll_photos(recognizer, door, [("annie", KIDMAN[1])]))  # ...until ann is gone
        assert list(check([twin])) == ["ann_twin"], "annie was enrolled here"


def test_the_admin_pushes_nothing_while_a_face_has_two_names_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = {"enabled": True, "site": "office", "key": "fleet-test-key-0123456789", "role": "admin"}
    admin = write_config(
        tmp_path / "edgeface.yaml", mqtt={"enabled": True, "host": "127.0.0.1", "port": 9}, fleet=fleet
    )
    assert edgeface(admin, "enroll", "meryl", *map(str, KIDMAN[:2])) == 0
    assert edgeface(admin, "enroll", "twin", str(KIDMAN[2]), "--allow-similar") == 0
    capsys.readouterr()
    assert edgeface(admin, "fleet", "push") == 1
    err = capsys.readouterr().err
    assert "edgeface: error: nothing pushed: meryl: one face, one name: already enrolled as twin (0." in err
    assert "(fleet push --allow-similar pushes them anyway)" in err
    assert edgeface(admin, "fleet", "push", "--allow-similar") == 1  # on to the broker, which is not there
    assert "nothing pushed" not in capsys.readouterr().err
