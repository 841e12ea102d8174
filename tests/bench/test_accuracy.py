"""``edgeface bench accuracy``: one JSON object with the contract's keys, and the accuracy the defaults must keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES


def test_bench_accuracy_prints_one_json_object_with_the_contract_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edgeface(write_config(tmp_path / "edgeface.yaml"), "bench", "accuracy", "--faces", str(FACES), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {
        "model", "threshold", "people", "genuine_probes", "impostor_probes", "correct_accepts", "false_rejects",
        "misidentified", "false_accepts", "no_face", "tar", "far", "eer", "recommended_threshold",
    }  # fmt: skip
    assert report["people"] == 37
    assert report["correct_accepts"] + report["false_rejects"] + report["misidentified"] == report["genuine_probes"]
    # The accuracy the default models must keep on the shared photos (issue 2's target).
    assert report["tar"] >= 0.95 and report["far"] <= 0.01
