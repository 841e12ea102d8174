"""The edgeface command as a user drives it: enrol, list, identify, read the log, bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edgeface.cli import main
from edgeface.config import load_config
from edgeface.models.profiles import BUILTIN_PROFILES
from edgeface.storage.audit import AuditLog
from edgeface.values import EventType
from edgeface.vision.threshold import tail_threshold
from tests.support.cli import edgeface, run_edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, SHARED, SHARED_MODELS
from tests.support.events import make_event
from tests.support.models import REPO_MODELS
from tests.support.scenes import empty_scene


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "edgeface.yaml")


@pytest.fixture
def faces_dir(tmp_path: Path) -> Path:
    """The seed's faces/ layout: folders per person and flat files with numbered stems."""
    root = tmp_path / "faces"
    (root / "barack_obama").mkdir(parents=True)
    shutil.copy(FACES / "barack_obama" / "1.jpg", root / "barack_obama" / "a.jpg")
    shutil.copy(FACES / "barack_obama" / "2.jpg", root / "barack_obama" / "b.jpg")
    shutil.copy(FACES / "nicole_kidman" / "1.jpg", root / "nicole_kidman.jpg")
    shutil.copy(FACES / "nicole_kidman" / "2.jpg", root / "nicole_kidman_2.jpg")
    return root


def detector_only(models: Path) -> Path:
    """A models folder holding the repo's YuNet and no embedder."""
    models.mkdir()
    shutil.copy(REPO_MODELS / "face_detection_yunet_2026may.onnx", models)
    return models


def people(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    capsys.readouterr()
    assert edgeface(config, "people", "list", "--json") == 0
    return {p["name"]: p["templates"] for p in json.loads(capsys.readouterr().out)["people"]}


def test_enrolling_a_faces_folder_round_trips_through_the_store(
    config: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(config, "enroll", "--from-dir", str(faces_dir)) == 0
    assert people(config, capsys) == {"barack_obama": 2, "nicole_kidman": 2}
    assert edgeface(config, "enroll", "--from-dir", str(faces_dir)) == 0, "enrolling again is harmless"
    assert people(config, capsys) == {"barack_obama": 2, "nicole_kidman": 2}
    assert edgeface(config, "people", "remove", "nicole_kidman") == 0
    assert people(config, capsys) == {"barack_obama": 2}
    assert edgeface(config, "people", "remove", "nicole_kidman") == 1


def listed_threshold(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[float, float | None]:
    capsys.readouterr()
    assert edgeface(config, "people", "list", "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    return listing["threshold"], listing["target_far"]


@pytest.mark.slow
def test_people_list_shows_the_threshold_in_force_which_rises_as_people_are_enrolled(
    config: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tail = BUILTIN_PROFILES["mobilefacenet_int8"].impostor_tail
    assert tail is not None
    assert edgeface(config, "enroll", "--from-dir", str(faces_dir)) == 0
    assert listed_threshold(config, capsys) == (round(tail_threshold(tail, 1e-3, 4), 4), 1e-3)
    assert edgeface(config, "enroll", "--from-dir", str(FACES)) == 0
    grown, _ = listed_threshold(config, capsys)
    assert grown > tail_threshold(tail, 1e-3, 4)
    assert edgeface(config, "people", "list") == 0
    assert "for a false-accept rate of 0.001 per attempt" in capsys.readouterr().err
    assert edgeface(config, "doctor") in (0, 1)
    (match,) = [line for line in capsys.readouterr().out.splitlines() if "match:" in line]
    assert match.startswith("✓") and f"{grown:.3f}" in match


def test_identify_names_enrolled_people_and_rejects_strangers(
    config: Path, faces_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edgeface(config, "enroll", "--from-dir", str(faces_dir))
    capsys.readouterr()
    out = tmp_path / "seen.jpg"
    probes = [str(FACES / "barack_obama" / "4.jpg"), str(FACES / "unknown" / "3.jpg")]
    assert edgeface(config, "identify", *probes, "--json", "--annotate", str(out)) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["faces"][0]["person"] for line in lines] == ["barack_obama", None]
    assert lines[0]["faces"][0]["decision"] == "known" and lines[1]["faces"][0]["decision"] == "unknown"
    assert set(lines[0]["faces"][0]) >= {"box", "score", "landmarks", "similarity"}
    for stem in ("4", "3"):
        drawn = cv2.imread(str(tmp_path / f"seen_{stem}.jpg"))
        assert drawn is not None and drawn.shape == cv2.imread(probes[0 if stem == "4" else 1]).shape


def test_photos_without_exactly_one_face_are_reported_by_name_and_skipped(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes((FACES / "joe_biden" / "1.jpg").read_bytes()[:300])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    good = FACES / "joe_biden" / "1.jpg"
    assert edgeface(config, "enroll", "joe", str(blank), str(corrupt), str(empty), str(good)) == 0
    err = capsys.readouterr().err
    assert "blank.jpg: no face" in err
    assert "corrupt.jpg: unreadable" in err and "empty.jpg: unreadable" in err
    assert people(config, capsys) == {"joe": 1}


def test_only_bad_photos_fail_the_command_and_leave_the_store_unchanged(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edgeface(config, "enroll", "joe", str(FACES / "joe_biden" / "1.jpg"))
    store = tmp_path / "state" / "people.db"
    before = store.read_bytes()
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    assert edgeface(config, "enroll", "ann", str(text)) == 1
    assert people(config, capsys) == {"joe": 1}
    assert store.read_bytes() == before


def test_an_unreadable_image_to_identify_is_one_error_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert edgeface(config, "identify", str(bad)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"edgeface: error: {bad}: not a readable image (corrupt, truncated or not a picture)"]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("detector:\n  scor_threshold: 0.5\n", "detector.scor_threshold: Extra inputs are not permitted"),
        ("match:\n  threshold: high\n", "match.threshold: Input should be a valid number"),
        ("relay:\n  pin: 99\n", "relay.pin: Input should be less than or equal to 27"),
        ("detector: [1, 2\n", "not valid YAML"),
        ("embedder:\n  profile: sface\n", "unknown profile 'sface'"),
    ],
)
def test_a_bad_config_is_one_error_line_naming_the_key(
    tmp_path: Path, yaml_text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and message in err[0]


def test_a_missing_or_corrupt_model_is_refused_before_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = detector_only(tmp_path / "models")
    config = write_config(tmp_path / "edgeface.yaml", models_dir=str(models))
    assert edgeface(config, "identify", str(FACES / "joe_biden" / "1.jpg")) == 1
    assert "mobilefacenet_foamliu_int8.onnx: model file not found" in capsys.readouterr().err

    (models / "mobilefacenet_foamliu_int8.onnx").write_bytes(b"\x08\x07garbage")
    assert edgeface(config, "identify", str(FACES / "joe_biden" / "1.jpg")) == 1
    assert "does not match the pinned" in capsys.readouterr().err

    write_config(config, models_dir=str(models), embedder={"sha256": None})
    assert edgeface(config, "identify", str(FACES / "joe_biden" / "1.jpg")) == 1
    assert "onnxruntime cannot load this model" in capsys.readouterr().err


def test_a_model_swap_refuses_stale_templates(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edgeface(config, "enroll", "joe", str(FACES / "joe_biden" / "1.jpg"))
    config.write_text(config.read_text() + "embedder:\n  profile: mobilefacenet\n")
    capsys.readouterr()
    assert edgeface(config, "identify", str(FACES / "joe_biden" / "2.jpg")) == 1
    assert "re-enrol" in capsys.readouterr().err


def test_the_seeds_facenet_contract_plugs_in_by_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A models/faceNet.onnx, a distance threshold, a faces/ folder of named photos."""
    models = detector_only(tmp_path / "models")
    (models / "faceNet.onnx").symlink_to(SHARED_MODELS / "facenet_inception_resnet_v1_casia_int8.onnx")
    config = write_config(
        tmp_path / "edgeface.yaml",
        models_dir=str(models),
        embedder={
            "profile": "facenet_casia_int8",
            "model": "faceNet.onnx",
            "sha256": "0eb0a3cb0279cbc5c405e2be19da18f1be26e2cf5db3c7f6cdbf7e9d5921970e",
        },
        match={"distance_threshold": 0.95},
    )
    faces = tmp_path / "faces"
    faces.mkdir()
    shutil.copy(FACES / "pierce_brosnan" / "1.jpg", faces / "pierce.jpg")
    assert edgeface(config, "enroll", "--from-dir", str(faces)) == 0
    capsys.readouterr()
    probes = [str(FACES / "pierce_brosnan" / "3.jpg"), str(FACES / "unknown" / "9.jpg")]
    assert edgeface(config, "identify", "--json", *probes) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["faces"][0]["person"] for line in lines] == ["pierce", None]


def test_the_installed_entry_point_reports_usage_errors() -> None:
    done = run_edgeface("enroll")
    assert done.returncode == 2
    assert done.stderr.strip() == "edgeface: error: nothing to enrol: give NAME PHOTO... or --from-dir DIR"


@pytest.mark.slow
def test_enrolling_from_the_camera_keeps_the_best_distinct_views(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for photo in sorted((FACES / "angelina_jolie").iterdir())[:10]:
        shutil.copy(photo, frames / photo.name)
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(frames), "fps": 4, "loop": False})
    assert edgeface(config, "enroll", "jolie", "--camera", "--count", "3", "--timeout", "20") == 0
    assert people(config, capsys) == {"jolie": 3}
    probe = sorted((FACES / "angelina_jolie").iterdir())[10]
    capsys.readouterr()
    assert edgeface(config, "identify", "--json", str(probe)) == 0
    assert json.loads(capsys.readouterr().out)["faces"][0]["person"] == "jolie"


@pytest.mark.slow
def test_a_printed_face_held_up_to_the_camera_is_never_enrolled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for photo in sorted((SHARED / "pad-dev" / "spoof" / "print").glob("nuaa_nuaa0001_*"))[:8]:
        shutil.copy(photo, frames / photo.name)
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(frames), "fps": 4, "loop": False})
    assert edgeface(config, "enroll", "printed", "--camera", "--count", "2", "--timeout", "20") == 1
    err = capsys.readouterr().err
    assert "liveness check failed" in err and "only 0 good view(s) of printed" in err
    assert people(config, capsys) == {}


def test_enrolling_from_a_camera_that_sees_nobody_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = empty_scene(tmp_path / "frames")
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(frames), "fps": 20})
    assert edgeface(config, "enroll", "ann", "--camera", "--count", "2", "--timeout", "1.5") == 1
    err = capsys.readouterr().err
    assert "no face in view" in err and "only 0 good view(s) of ann" in err


def test_the_audit_log_command_lists_what_the_daemon_decided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    with AuditLog(tmp_path / "state" / "people.db", retention_days=365) as audit:
        audit.record(make_event(type=EventType.GRANTED, person="ann"))
        audit.record(make_event(type=EventType.DENIED, person="bob"))
    assert edgeface(config, "log", "--json", "--person", "ann") == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["type"], entry["person"]) == ("granted", "ann")
    for since in ("someday", "5x"):
        assert edgeface(config, "log", "--since", since) == 2  # a usage error, as the README says
        assert capsys.readouterr().err.splitlines() == [
            f"edgeface: error: --since {since!r}: use a duration like 12h or 7d, or a date like 2026-11-25T08:00"
        ]


def test_the_audit_log_says_when_it_has_nothing_to_show_and_who_a_person_filter_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "log") == 0
    assert capsys.readouterr() == ("", "no decisions in the audit log\n")
    with AuditLog(tmp_path / "state" / "people.db", retention_days=365) as audit:
        audit.record(make_event(type=EventType.GRANTED, person="lin_manuel_miranda"))
    assert edgeface(config, "log", "--person", "lin") == 0
    assert capsys.readouterr() == (
        "",
        "no decisions in the audit log about 'lin'; did you mean 'lin_manuel_miranda'?\n",
    )
    assert edgeface(config, "log", "--since", "2h", "--person", "zz") == 0
    assert capsys.readouterr().err == "no decisions in the audit log since 2h about 'zz'\n"
    assert edgeface(config, "log", "--json", "--person", "lin") == 0
    assert capsys.readouterr() == ("[]\n", "")


def test_identify_and_inspect_print_one_layout_with_no_enrolled_name_on_a_clear_strangers_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(FACES / "unknown" / "13.jpg", frames / "1.jpg")  # two strangers, as the camera sees them
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(frames)})
    assert edgeface(config, "enroll", "pete", str(FACES / "pete_sampras" / "1.jpg")) == 0
    photos = [
        str(FACES / "pete_sampras" / "2.jpg"),
        str(FACES / "unknown" / "26.jpg"),
        str(FACES / "unknown" / "13.jpg"),
    ]
    capsys.readouterr()
    assert edgeface(config, "identify", "--json", *photos) == 0
    known, close, far = (json.loads(line)["faces"] for line in capsys.readouterr().out.splitlines())
    unknown_below = load_config(config).decide.unknown_below
    assert close[0]["similarity"] >= unknown_below > max(f["similarity"] for f in far) and len(far) == 2

    def said(text: str, face: dict[str, Any]) -> tuple[str, str | None]:
        """Who a printed face line names and the closest name it adds; its similarity and box are the JSON's."""
        printed = FACE_LINE.fullmatch(text)
        assert printed, text
        assert float(printed["similarity"]) == pytest.approx(face["similarity"], abs=5e-4)
        assert [int(v) for v in printed["box"].split(", ")] == pytest.approx(face["box"], abs=1), text
        return printed["who"], printed["closest"]

    assert edgeface(config, "identify", *photos) == 0
    out = capsys.readouterr().out.splitlines()
    assert [out[0], out[2], out[4]] == [f"{photos[0]}: 1 face", f"{photos[1]}: 1 face", f"{photos[2]}: 2 faces"]
    assert said(out[1], known[0]) == ("pete", None)
    assert said(out[3], close[0]) == ("stranger", "pete")  # close enough for the door to hesitate: who it is nearest
    assert [said(text, face) for text, face in zip(out[5:], far, strict=True)] == [("stranger", None)] * 2
    assert edgeface(config, "inspect", "--out", str(tmp_path / "snap.jpg")) == 0
    snapshot, summary = capsys.readouterr()
    assert snapshot.splitlines() == [text.strip() for text in out[5:]], "inspect prints identify's lines"
    assert summary == f"{tmp_path / 'snap.jpg'}: 2 faces\n"


FACE_LINE = re.compile(
    r" *(?P<who>\S+) +similarity (?P<similarity>-?\d\.\d{3})(  closest: (?P<closest>\S+))?  box \[(?P<box>[-\d, ]+)\]"
)
"""A face as identify and inspect print it."""
