"""What scripts and people read: ``--json`` with stable keys, one error line per problem, a suggestion for a typo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeface.cli.output import closest
from tests.support.cli import edgeface, run_edgeface
from tests.support.configs import write_config
from tests.support.data import DEMO_FACES, FACES


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "edgeface.yaml")


def people_in_store(config: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert edgeface(config, "people", "list", "--json") == 0
    return [p["name"] for p in output_json(capsys)["people"]]  # type: ignore[index,union-attr]


def output_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    data = json.loads(out[0])
    assert isinstance(data, dict)
    return data


# --- --json -----------------------------------------------------------------------------------------------------


def test_doctor_json_has_one_entry_per_check_and_the_same_exit_status(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "doctor", "--json") == 1  # nobody is enrolled yet
    data = output_json(capsys)
    assert set(data) == {"ok", "passed", "checks"} and data["ok"] is False
    checks = data["checks"]
    assert isinstance(checks, list) and all(set(c) == {"name", "ok", "detail", "fix"} for c in checks)
    by_name = {c["name"]: c for c in checks}
    assert by_name["store"]["ok"] is False and "enroll" in by_name["store"]["fix"]
    assert by_name["models"] == {**by_name["models"], "ok": True, "fix": ""}
    assert data["passed"] == sum(c["ok"] for c in checks) == len(checks) - 1


def test_enroll_json_counts_new_already_enrolled_and_refused_photos(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faces = tmp_path / "faces"
    shutil.copytree(DEMO_FACES, faces)
    (faces / "notes.txt").write_text("who is who\n")
    assert edgeface(config, "enroll", "--from-dir", str(faces), "--json") == 0
    first = output_json(capsys)
    assert set(first) == {
        "enrolled", "already_enrolled", "skipped", "created", "extended", "overridden", "dry_run", "people", "store"
    }  # fmt: skip
    assert (first["enrolled"], first["already_enrolled"], first["people"]) == (2, 0, 2)
    assert (first["created"], first["extended"], first["overridden"]) == (
        ["alex_lacamoire", "lin_manuel_miranda"], [], []
    )  # fmt: skip
    assert first["skipped"] == [
        {"photo": str(faces / "notes.txt"), "name": "notes", "outcome": "not a photo", "reason": "not a photo"}
    ]
    assert first["store"] == str(tmp_path / "state" / "people.db")
    assert edgeface(config, "enroll", "--from-dir", str(faces), "--json") == 0
    again = output_json(capsys)
    assert (again["enrolled"], again["already_enrolled"], len(again["skipped"])) == (0, 2, 1)  # type: ignore[arg-type]
    assert again["created"] == again["extended"] == [], "photos already enrolled change no one"


def test_config_check_json_names_the_file_and_lists_every_problem(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "config", "check", "--json") == 0
    assert output_json(capsys) == {"config": str(config), "ok": True, "problems": []}
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera:\n  fsp: 10\nrelay:\n  pin: 99\n")
    assert edgeface(bad, "config", "check", "--json") == 1
    data = output_json(capsys)
    assert data["config"] == str(bad) and data["ok"] is False
    assert data["problems"] == [
        f"{bad}: camera.fsp: Extra inputs are not permitted; did you mean 'camera.fps'?",
        f"{bad}: relay.pin: Input should be less than or equal to 27 (a BCM GPIO number); "
        "to drive line 99 of a gpiochip (Jetson), also set relay.chip",
    ]


def test_inspect_json_lists_the_faces_as_identify_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(FACES / "barack_obama" / "2.jpg", frames / "1.jpg")
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(frames)})
    assert edgeface(config, "enroll", "barack", str(FACES / "barack_obama" / "1.jpg")) == 0
    capsys.readouterr()
    out = tmp_path / "snap.jpg"
    assert edgeface(config, "inspect", "--out", str(out), "--json") == 0
    data = output_json(capsys)
    assert set(data) == {"out", "threshold", "faces"} and data["out"] == str(out) and out.is_file()
    (face,) = data["faces"]  # type: ignore[misc]
    assert set(face) == {"box", "score", "landmarks", "person", "candidate", "similarity", "decision"}
    assert (face["person"], face["decision"]) == ("barack", "known")


# --- config check names what it checked ----------------------------------------------------------------------------


def test_config_check_names_the_config_given_with_dash_dash_config(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "config", "check") == 0
    assert capsys.readouterr().out.strip() == f"{config}: ok"


# --- errors: one line per problem, the closest name suggested ------------------------------------------------------


def test_every_config_problem_is_an_error_line_of_its_own_with_the_key_it_meant(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("detector:\n  scor_threshold: 0.5\nmqt: {}\nrelay:\n  pin: 99\n")
    done = run_edgeface("--config", str(bad), "people", "list")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"edgeface: error: {bad}: detector.scor_threshold: Extra inputs are not permitted; "
        "did you mean 'detector.score_threshold'?",
        f"edgeface: error: {bad}: relay.pin: Input should be less than or equal to 27 (a BCM GPIO number); "
        "to drive line 99 of a gpiochip (Jetson), also set relay.chip",
        f"edgeface: error: {bad}: mqt: Extra inputs are not permitted; did you mean 'mqtt'?",
    ]


def test_an_unknown_key_with_nothing_close_gets_no_guess(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera:\n  zzzzzz: 1\n")
    assert edgeface(bad, "config", "check") == 1
    assert capsys.readouterr().err.strip() == (f"edgeface: error: {bad}: camera.zzzzzz: Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [(["peple", "list"], "'peple'; did you mean 'people'?"), (["people", "lsit"], "'lsit'; did you mean 'list'?")],
)
def test_a_mistyped_command_gets_the_closest_one(config: Path, args: list[str], suggestion: str) -> None:
    done = run_edgeface("--config", str(config), *args)
    assert done.returncode == 2
    assert "invalid choice: " + suggestion in done.stderr.splitlines()[-1]


def test_removing_a_mistyped_name_suggests_the_enrolled_one(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert edgeface(config, "enroll", "--from-dir", str(DEMO_FACES)) == 0
    capsys.readouterr()
    assert edgeface(config, "people", "remove", "lin_manuel_mirand") == 1
    assert capsys.readouterr().err.strip() == (
        "edgeface: error: no enrolled person called 'lin_manuel_mirand'; did you mean 'lin_manuel_miranda'?"
    )
    assert edgeface(config, "people", "remove", "zz") == 1
    assert capsys.readouterr().err.strip() == "edgeface: error: no enrolled person called 'zz'"
    # A first name, as a user types it: the enrolled name it begins, whatever the case.
    assert edgeface(config, "people", "remove", "Alex") == 1
    assert capsys.readouterr().err.strip() == (
        "edgeface: error: no enrolled person called 'Alex'; did you mean 'alex_lacamoire'?"
    )
    assert people_in_store(config, capsys) == ["alex_lacamoire", "lin_manuel_miranda"]


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("Meryl", "meryl_streep"),
        ("winona", "winona_ryder"),
        ("RYDER", "winona_ryder"),
        ("meryl_streap", "meryl_streep"),
        ("me", None),  # too short to stand for a name
        ("bob", None),
    ],
)
def test_the_closest_name_is_found_by_any_part_of_it_in_any_case(word: str, meant: str | None) -> None:
    assert closest(word, ["winona_ryder", "meryl_streep", "lin_manuel_miranda"]) == meant


def test_counts_of_people_are_in_the_singular_for_one(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "enroll", "lin", str(DEMO_FACES / "lin_manuel_miranda.jpg")) == 0
    assert (
        capsys.readouterr().out == f"enrolled 1 photo(s), skipped 0; 1 person in {tmp_path / 'state' / 'people.db'}\n"
    )
    assert edgeface(config, "people", "list") == 0
    assert capsys.readouterr().err.startswith("1 person, 1 template; match threshold ")


# --- enrolling again ------------------------------------------------------------------------------------------------


def test_enrolling_the_same_folder_again_says_the_photos_are_already_enrolled_and_succeeds(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faces = tmp_path / "faces"
    shutil.copytree(DEMO_FACES, faces)
    (faces / "blank.jpg").write_bytes(b"")  # a real failure, reported both times
    assert edgeface(config, "enroll", "--from-dir", str(faces)) == 0
    capsys.readouterr()
    assert edgeface(config, "enroll", "--from-dir", str(faces)) == 0
    out, err = capsys.readouterr()
    assert out.startswith("enrolled 0 photo(s), 2 already enrolled, skipped 1; 2 people in "), out
    assert err.startswith(f"skipped {faces / 'blank.jpg'}: "), err


def test_an_enrolment_where_every_photo_fails_still_fails(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert edgeface(config, "enroll", "ann", str(empty)) == 1
    assert "enrolled 0 photo(s), skipped 1" in capsys.readouterr().out
