"""Calibration: pair thresholds, the impostor tail fitted on your photos, and the config it writes."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeface.bench.detplot import DetPlot, Scale, layout, overlaps
from edgeface.bench.livenessplot import liveness_det
from edgeface.bench.rates import Sample
from edgeface.config import parse_config
from edgeface.errors import ConfigError
from edgeface.ops.calibrate import (
    OperatingPoint,
    calibrate,
    det_plot,
    render_plot,
    set_impostor_tail,
    write_impostor_tail,
)
from edgeface.vision.threshold import ThresholdPolicy
from tests.support.cli import edgeface, run_in_terminal
from tests.support.configs import write_config
from tests.support.data import DEMO_FACES, FACES, ROOT


def people(count: int, photos: int, seed: int, spread: float = 0.35) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count, 64))
    vectors = np.concatenate([c + spread * rng.normal(size=(photos, 64)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, [f"p{i}" for i in range(count) for _ in range(photos)]


def test_calibration_finds_thresholds_for_each_target_far(tmp_path: Path) -> None:
    vectors, labels = people(20, 4, seed=3)
    cal = calibrate(vectors, labels)
    assert len(cal.genuine) == 20 * 6 and len(cal.impostor) == 80 * 79 // 2 - 120
    strict = [cal.thresholds[f] for f in (0.01, 0.001, 0.0001)]
    assert strict == sorted(strict), "a lower FAR needs a higher threshold"
    for far, threshold in cal.thresholds.items():
        assert (cal.impostor >= threshold).mean() <= far


def test_too_few_impostor_pairs_fit_no_tail_and_say_how_many_are_needed() -> None:
    vectors, labels = people(20, 4, seed=3)
    cal = calibrate(vectors, labels)
    assert cal.tail is None and cal.tail_problem is not None and "at least 30000" in cal.tail_problem


def test_the_fitted_tail_predicts_how_often_new_strangers_beat_a_gallery() -> None:
    vectors, labels = people(100, 4, seed=5)
    cal = calibrate(vectors, labels, "synthetic people")
    assert cal.tail is not None and cal.tail.fitted_on.startswith("synthetic people")
    # Strangers the fit never saw, against a gallery of 50 people it never saw either.
    gallery, _ = people(50, 1, seed=6)
    strangers, _ = people(4000, 1, seed=7)
    best = (strangers @ gallery.T).max(axis=1)
    text = set_impostor_tail("", cal.tail, target_far=0.01)
    cfg = parse_config(text, "calibrated", Path())
    threshold = ThresholdPolicy.from_config(cfg).for_gallery(len(gallery))
    realised = float((best >= threshold.value).mean())
    assert threshold.target_far == 0.01 and 0.003 <= realised <= 0.03


def test_the_tail_is_written_into_the_config_keeping_comments_and_replacing_a_fixed_threshold() -> None:
    vectors, labels = people(100, 4, seed=5)
    tail = calibrate(vectors, labels).tail
    assert tail is not None
    text = (ROOT / "config" / "edgeface.yaml").read_text()
    written = set_impostor_tail(text.replace("threshold: null ", "threshold: 0.4  "), tail, target_far=0.002)
    cfg = parse_config(written, "t", ROOT / "config")
    assert cfg.match.impostor_tail == tail and cfg.match.target_far == 0.002
    assert cfg.match.threshold is None and cfg.match.distance_threshold is None, "a fixed threshold would win"
    kept = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert all(line in written for line in kept), "every comment line survives"
    seed = set_impostor_tail("match:\n  distance_threshold: 0.9  # the seed's\n", tail, 0.001)
    assert parse_config(seed, "t", Path()).match.fixed_similarity() is None
    with pytest.raises(ConfigError, match="mapping"):
        set_impostor_tail("- a list\n", tail, 0.001)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"match:\n  target_far: 0.01\nmatch:\n  target_far: 0.02\n", "line 3: not a config file"),
        (b"camera: {fps: 5}\n---\nrelay: {pin: 17}\n", "line 2: not a config file"),
        (b"# caf\xe9\nmatch: {}\n", "not UTF-8 (byte 0xe9 at offset 5)"),
        (b"match: {}\n" + b"#" * (10 * 1024 * 1024), "larger than 1024 KiB, not a config file"),
    ],
    ids=["duplicate-keys", "two-documents", "latin-1", "10-MB"],
)
def test_writing_the_tail_into_a_file_that_is_not_a_config_is_one_error_and_changes_nothing(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    vectors, labels = people(100, 4, seed=5)
    tail = calibrate(vectors, labels).tail
    assert tail is not None
    path = tmp_path / "edgeface.yaml"
    path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        write_impostor_tail(path, tail, 0.001)
    assert time.monotonic() - started < 2, "refused without parsing megabytes"
    assert len(str(refused.value).splitlines()) == 1 and str(refused.value).startswith(f"{path}: {problem}")
    assert path.read_bytes() == content


# --- the DET plot ---------------------------------------------------------------------------------------------------


def assert_no_text_overlaps(plot: DetPlot, width: int, height: int) -> None:
    boxes = [(label.text, label.box) for label in layout(plot, width, height).labels]
    for i, (text, box) in enumerate(boxes):
        assert box[0] >= 0 and box[2] <= width and box[1] >= 0 and box[3] <= height, f"{text!r} leaves the image"
        for other, other_box in boxes[i + 1 :]:
            assert not overlaps(box, other_box), f"{text!r} overprints {other!r}"


def test_the_calibration_plot_is_a_det_curve_with_both_thresholds_marked(tmp_path: Path) -> None:
    vectors, labels = people(40, 4, seed=3)
    cal = calibrate(vectors, labels)
    in_force = OperatingPoint.at(cal, "in force", 0.45, 40)
    proposed = OperatingPoint.at(cal, "proposed", 0.449, 40)  # nearly the same point: the labels must not collide
    plot = det_plot(cal, [in_force, proposed])
    assert plot.x.kind == plot.y.kind == "log"
    assert plot.x.low <= 1 / len(cal.impostor) and plot.y.low <= 1 / len(cal.genuine)
    (curve,) = plot.curves
    fars, frrs = zip(*curve.points, strict=True)
    assert list(fars) == sorted(fars, reverse=True) and list(frrs) == sorted(frrs), "FAR falls as FRR rises"
    assert fars[0] == 1.0 and frrs[-1] >= 0.9
    far, frr = cal.rates(0.45)
    assert plot.marks[0].points == [(far, frr)] and plot.marks[0].name.startswith("in force 0.450: FAR ")
    assert plot.marks[1].name.startswith("proposed 0.449: FAR ")
    assert_no_text_overlaps(plot, 720, 560)
    image = render_plot(cal, [in_force, proposed])
    assert cv2.imwrite(str(tmp_path / "det.png"), image) and image.shape == (560, 720, 3)


def test_the_liveness_det_names_each_level_once_in_a_legend_whose_labels_do_not_overlap() -> None:
    rng = np.random.default_rng(0)
    samples = [Sample(float(v), None, f"s{i % 5}") for i, v in enumerate(rng.beta(5, 2, 300))]
    samples += [Sample(float(v), "print", f"s{i % 5}") for i, v in enumerate(rng.beta(2, 5, 200))]
    samples += [Sample(float(v), "replay", f"s{i % 5}") for i, v in enumerate(rng.beta(2, 4, 200))]
    marks = {"here": 0.5, "convenient": 0.49, "balanced": 0.51, "secure": 0.7}
    plot = liveness_det(samples, marks)
    assert [c.name for c in plot.curves] == ["print", "replay"] and [m.name for m in plot.marks] == list(marks)
    assert all(len(m.points) == 2 for m in plot.marks), "each level is a point on each species' curve"
    assert_no_text_overlaps(plot, 640, 560)


def test_a_log_axis_spans_whole_decades_and_puts_a_rate_of_zero_at_its_end() -> None:
    axis = Scale.log_decades(1 / 37000)
    assert axis.low == pytest.approx(1e-5) and axis.ticks[0] == pytest.approx(1e-5) and axis.ticks[-1] == 1.0
    assert axis.position(0.0) == 0.0 and axis.position(1.0) == 1.0
    assert axis.position(1e-3) == pytest.approx(0.4)


# --- the command ----------------------------------------------------------------------------------------------------


def some_people(root: Path, count: int) -> Path:
    """``count`` people of the shared faces, none of them one of the demo's (who are enrolled in these tests)."""
    root.mkdir()
    demo = {p.stem for p in DEMO_FACES.iterdir()}
    for person in sorted(p for p in FACES.iterdir() if p.is_dir() and p.name not in {"unknown", *demo})[:count]:
        shutil.copytree(person, root / person.name)
    return root


@pytest.mark.slow
def test_calibrate_scores_only_the_photos_given_unless_asked_to_add_the_enrolled_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "enroll", "--from-dir", str(DEMO_FACES)) == 0
    faces = some_people(tmp_path / "faces", 4)
    photos = sum(1 for _ in faces.glob("*/*.jpg"))
    capsys.readouterr()
    assert edgeface(config, "calibrate", "--faces", str(faces), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scored"] == {
        "enrolled_templates": 0, "store": None, "photos": photos, "faces_dir": str(faces), "people": 4, "strangers": 0,
    }  # fmt: skip
    assert data["genuine_pairs"] + data["impostor_pairs"] == photos * (photos - 1) // 2
    assert edgeface(config, "calibrate", "--faces", str(faces), "--include-enrolled", "--json") == 0
    mixed = json.loads(capsys.readouterr().out)
    assert (mixed["scored"]["enrolled_templates"], mixed["scored"]["people"]) == (2, 6)
    assert mixed["genuine_pairs"] + mixed["impostor_pairs"] == (photos + 2) * (photos + 1) // 2
    assert edgeface(config, "calibrate", "--faces", str(faces)) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"scored: {photos} photo(s) in {faces} (4 people); enrolled templates left out (--include-enrolled adds them)"
    )


@pytest.mark.slow
def test_calibrate_says_whether_its_proposal_is_looser_or_stricter_than_the_threshold_in_force(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    before = config.read_text()
    plot = tmp_path / "det.png"
    run = run_in_terminal(
        "--config", str(config), "calibrate", "--faces", str(FACES), "--plot", str(plot), typed="n\n", timeout=120
    )
    assert run.returncode == 0, run.output
    lines = [line.rstrip("\r").split("\r")[-1] for line in run.output.split("\n")]
    (proposal,) = [line for line in lines if line.startswith("proposed: ")]
    points = [line.strip() for line in lines if line.startswith(("  in force ", "  proposed "))]
    assert len(points) == 2 and all("per attempt; pair FAR " in p and ", TAR " in p for p in points), points
    in_force = float(points[0].split()[2].rstrip(":"))
    proposed = float(proposal.split()[1].rstrip(","))
    word = "looser than" if proposed < in_force else "stricter than"
    assert proposal == f"proposed: {proposed:.4f}, {word} the threshold in force ({in_force:.4f})"
    (question,) = [line for line in lines if line.startswith("write the fitted impostor tail")]
    assert f"{config} (match.impostor_tail)? The threshold becomes {proposed:.3f}, {word} the threshold in force " in (
        question
    )
    assert config.read_text() == before, "answered no: nothing written"
    image = cv2.imread(str(plot))
    assert image is not None and image.shape == (560, 720, 3)
