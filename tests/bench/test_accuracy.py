"""``edgeface bench accuracy``: the contract's keys, galleries of any size, a threshold that holds its FAR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeface.bench.accuracy import Collected, collect, evaluate
from edgeface.vision.recognize import Recognizer
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, LFW_DEV

pytestmark = pytest.mark.slow


def test_bench_accuracy_prints_one_json_object_with_the_contract_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(write_config(tmp_path / "edgeface.yaml"), "bench", "accuracy", "--faces", str(FACES), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {
        "model", "threshold", "people", "genuine_probes", "impostor_probes", "correct_accepts", "false_rejects",
        "misidentified", "false_accepts", "no_face", "tar", "far", "eer", "recommended_threshold",
        "target_far", "threshold_source", "far_target", "galleries",
    }  # fmt: skip
    assert report["people"] == 37
    assert report["correct_accepts"] + report["false_rejects"] + report["misidentified"] == report["genuine_probes"]
    # The product's own threshold for 37 templates at the default target FAR of 1e-3.
    assert report["target_far"] == 0.001 and "37 templates" in report["threshold_source"]
    assert report["far"] == 0.0 and report["tar"] >= 0.9


def test_galleries_of_each_size_report_the_embedding_and_the_products_own_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    args = ("bench", "accuracy", "--faces", str(FACES), "--json", "--gallery-sizes", "5,20,37", "--seed", "3")
    assert edgeface(config, *args) == 0
    galleries = json.loads(capsys.readouterr().out)["galleries"]
    assert [g["size"] for g in galleries] == [5, 20, 37]
    assert [g["repetitions"] for g in galleries] == [5, 5, 1]
    thresholds = [g["threshold"] for g in galleries]
    assert thresholds == sorted(thresholds) and thresholds[0] < thresholds[-1], "more templates, a higher threshold"
    for g in galleries:
        assert set(g) >= {"tar_at_far", "threshold_at_far", "misidentified", "tar", "far", "templates"}
        assert 0.0 <= g["far"] <= 0.01 and g["tar"] > 0.8
    # Only members' probes are genuine attempts; everybody left out of a gallery is a stranger to it.
    assert galleries[0]["genuine_attempts"] < galleries[-1]["genuine_attempts"]
    assert galleries[0]["impostor_attempts"] == galleries[-1]["impostor_attempts"]


@pytest.fixture(scope="module")
def door_scale(recognizer: Recognizer) -> Collected:
    """lfw-dev embedded once with the default pipeline (about 30 s on two cores)."""
    assert LFW_DEV.is_dir(), f"{LFW_DEV} is missing (see ../shared/README.md)"
    return collect(recognizer, LFW_DEV)


def test_at_door_scale_the_threshold_follows_the_gallery_and_holds_its_false_accept_rate(
    door_scale: Collected, recognizer: Recognizer
) -> None:
    # lfw-dev is where the shipped tail was fitted: held-out figures: docs/accuracy.md.
    report = evaluate(door_scale, recognizer, gallery_sizes=(10, 100, 800), repetitions=3)
    assert report.people == 854 and report.impostor_probes > 3900
    assert report.target_far == 0.001 and report.far <= 0.002
    sizes = {g["size"]: g for g in report.galleries}
    assert sizes[10]["threshold"] < sizes[100]["threshold"] < sizes[800]["threshold"] < 0.6
    for g in report.galleries:
        assert float(g["far"]) <= 0.003, g
    # The fixed threshold of old lets about one stranger in ten through with 854 people enrolled.
    fixed = evaluate(door_scale, recognizer, threshold=0.40)
    assert fixed.target_far is None and fixed.far > 0.05


def test_the_default_recognizer_scores_centroids_and_does_not_mistake_members_for_each_other(
    door_scale: Collected, recognizer: Recognizer
) -> None:
    report = evaluate(door_scale, recognizer)
    assert recognizer.matching.score == "centroid"
    assert report.misidentified <= 2 and report.enroll_failures <= 2, "the central face is enrolled, not a bystander"


def test_a_tail_fitted_on_half_of_the_people_holds_its_far_on_the_other_half(
    door_scale: Collected, recognizer: Recognizer
) -> None:
    held = evaluate(door_scale, recognizer, gallery_sizes=(100,), holdout=12345).holdout
    assert held is not None and (held["fit_people"], held["test_people"]) == (427, 427)
    assert "seed 12345" in held["tail"]["fitted_on"]
    assert held["far"] <= 0.003 and held["tar"] > 0.75
    (hundred,) = held["galleries"]
    assert hundred["size"] == 100 and hundred["far"] <= 0.003
