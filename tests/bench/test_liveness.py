"""``edgeface bench liveness``: APCER and BPCER on the upstream samples, and the inputs it takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeface.bench.liveness import liveness_jobs, photos_under, run_liveness
from edgeface.cli import main
from edgeface.config.liveness import DEFAULT_THRESHOLD
from edgeface.errors import ConfigError
from edgeface.liveness.minifasnet import MiniFASNet
from edgeface.vision.detect import Detector
from tests.support.data import LIVENESS
from tests.support.scenes import empty_scene


def test_the_bench_on_the_upstream_samples(detector: Detector, minifasnet: MiniFASNet, tmp_path: Path) -> None:
    blank = empty_scene(tmp_path / "empty")
    report = run_liveness(
        detector, minifasnet, [LIVENESS / "real", blank], [LIVENESS / "spoof"], threshold=DEFAULT_THRESHOLD
    )
    data = report.to_dict()
    assert data["apcer"] == 0.0 and data["attacks"] == 2 and data["attacks_accepted"] == 0
    assert data["bpcer"] == 0.0 and data["bona_fide"] == 1
    assert data["no_face"] == {"bona_fide": 1, "attack": 0}
    hist = report.histogram()
    assert sum(hist["bona_fide"]) == 1 and sum(hist["attack"]) == 2
    assert data["ms_per_face"] is not None and data["ms_per_face"] > 0
    json.dumps(data)
    text = "\n".join(report.table())
    assert "APCER" in text and "BPCER" in text and "0/2 attacks accepted" in text


def test_bench_inputs_are_found_recursively_and_both_kinds_are_required(tmp_path: Path) -> None:
    for rel in ("a/1.jpg", "a/b/2.png", "c.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a photo")
    assert [p.relative_to(tmp_path).as_posix() for p in photos_under(tmp_path)] == ["a/1.jpg", "a/b/2.png", "c.jpg"]
    with pytest.raises(ConfigError, match="both"):
        liveness_jobs([tmp_path], [])
    with pytest.raises(ConfigError, match="not a folder"):
        photos_under(tmp_path / "missing")


def test_bench_liveness_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    real, spoof = LIVENESS / "real", LIVENESS / "spoof"
    assert main(["bench", "liveness", "--real", str(real), "--spoof", str(spoof), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["apcer"] == 0.0 and data["bpcer"] == 0.0 and data["attacks"] == 2
