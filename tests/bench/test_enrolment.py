"""``bench enrolment`` on real photos: the checks refuse wrong faces and second names, and the cache is reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeface.bench.enrolment import run_enrolment
from edgeface.vision.recognize import Recognizer
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES


def test_the_checks_refuse_wrong_faces_and_second_names_and_take_most_genuine_photos(
    recognizer: Recognizer, tmp_path: Path
) -> None:
    cache = tmp_path / "embeddings.npz"
    report = run_enrolment(recognizer, FACES, trials=30, seed=1, cache=cache)
    assert report.people == 36 and report.left_out == 1  # one person of faces/ has a single photo
    assert report.wrong_face.trials == report.same_face.trials == 30 and report.genuine.trials == 36
    assert report.wrong_face.refused == 30, "another person's photo is never added"
    assert report.same_face.rate >= 0.9 and report.genuine.rate <= 0.1
    assert 25 <= report.strangers.trials <= 30, "strangers with a single face, of 30 drawn"
    assert report.strangers.refused <= 1, "a newcomer is hardly ever taken for one of 36 people"
    again = run_enrolment(recognizer, FACES, trials=30, seed=1, cache=cache)
    assert again == report, "the cached embeddings give the same figures"


def test_the_json_report_names_the_targets_and_whether_they_were_met(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "bench", "enrolment", "--faces", str(FACES), "--trials", "10", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["wrong_face"] == {"refused": 10, "trials": 10, "rate": 1.0}
    assert data["targets"] == {"wrong_face_refused": 0.99, "same_face_refused": 0.95, "genuine_refused": 0.02}
    assert data["passed"]["wrong_face_refused"] is True and data["verify_far"] == 0.0001
