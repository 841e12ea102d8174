"""``edgeface bench liveness``: APCER and BPCER on the upstream samples, and the inputs it takes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from edgeface.bench.liveness import liveness_jobs, photos_under, run_liveness
from edgeface.cli import main
from edgeface.config.liveness import DEFAULT_THRESHOLD
from edgeface.errors import ConfigError
from edgeface.liveness.minifasnet import MiniFASNet
from edgeface.vision.detect import Detector
from tests.support.data import LIVENESS, SHARED
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


PAD_DEV = SHARED / "pad-dev"


@pytest.mark.slow
def test_pad_dev_is_reported_per_species_source_and_subject_with_a_det_plot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "det.png"
    args = ["bench", "liveness", "--real", str(PAD_DEV / "real"), "--half", "held-out", "--json"]
    args += ["--spoof", str(PAD_DEV / "spoof" / "print"), "--spoof", str(PAD_DEV / "spoof" / "replay")]
    assert main([*args, "--plot", str(plot)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["manifest"] == str(PAD_DEV / "manifest.csv") and data["half"] == "held-out"
    assert set(data["by_source"]) == {"nuaa", "pyis"} and data["subjects"] == 5
    assert set(data["by_subject"]) == {"nuaa0002", "nuaa0005", "nuaa0006", "nuaa0007", "pyis"}
    assert set(data["apcer_by_species"]) == {"print", "replay"}
    assert set(data["operating_points"]) == set(data["levels"]) == {"convenient", "balanced", "secure"}
    balanced = data["levels"]["balanced"]
    # What the shipped level does on subjects it was not tuned on: prints are stopped, live faces pass.
    assert balanced["apcer_by_species"]["print"]["apcer"] == 0.0 and balanced["bpcer"] <= 0.05
    lo, hi = balanced["bpcer_ci"]
    assert lo <= balanced["bpcer"] <= hi
    image = cv2.imread(str(plot))
    assert image is not None and image.shape == (560, 640, 3)


def test_without_a_manifest_each_folder_is_a_subject(detector: Detector, minifasnet: MiniFASNet) -> None:
    report = run_liveness(detector, minifasnet, [LIVENESS / "real"], [LIVENESS / "spoof"], threshold=0.5)
    data = report.to_dict()
    assert data["manifest"] is None and data["by_source"] == {} and set(data["by_subject"]) == {"real", "spoof"}
    with pytest.raises(ConfigError, match="needs a manifest"):
        run_liveness(detector, minifasnet, [LIVENESS / "real"], [LIVENESS / "spoof"], threshold=0.5, half="dev")
