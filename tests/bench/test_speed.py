"""``edgeface bench speed`` as a user runs it: one JSON object, every stage timed, the store size honoured.

No timing is asserted: targets are read from the benchmark's output, not enforced by tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeface.bench.speed import STAGES, letterbox, synthetic_gallery
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES

QUICK = ["--frames", "6", "--warmup", "2"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "edgeface.yaml")


def bench(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert edgeface(config, "bench", "speed", *QUICK, "--json", *args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, "--json prints exactly one object"
    data: dict[str, object] = json.loads(lines[0])
    return data


def test_json_reports_median_and_p95_of_every_stage_on_the_demo_clip(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bench(config, capsys)
    assert set(data) >= {*STAGES, "fps", "faces", "rss_mb", "model", "threads"}
    for stage in STAGES:
        stat = data[stage]
        assert isinstance(stat, dict) and set(stat) == {"median", "p95"}, stage
        assert 0 < stat["median"] <= stat["p95"], stage
    assert data["faces"] > 0, "the demo clip shows faces, so align, embed and match are measured"
    assert data["fps"] > 0 and data["rss_mb"] > 0
    assert data["model"] == "mobilefacenet_int8" and data["threads"] >= 1
    assert data["frames"] == 6 and data["frame_size"] == [640, 480]


def test_liveness_off_is_not_timed(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    off = write_config(tmp_path / "off.yaml", liveness={"enabled": False})
    data = bench(off, capsys)
    assert data["liveness_ms"] == {"median": None, "p95": None} and data["faces"] > 0


def test_store_size_sets_how_many_templates_each_frame_is_matched_against(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bench(config, capsys, "--store-size", "1002", "--threads", "2")
    assert (data["templates"], data["people"]) == (1002, 201), "five templates a person, the last one has two"
    assert data["threads"] == 2


def test_a_folder_of_photos_at_native_size_is_a_source_too(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(FACES / "barack_obama" / "1.jpg", photos / "a.jpg")
    data = bench(config, capsys, "--source", str(photos), "--frame-size", "native", "--store-size", "0")
    assert data["faces"] == 6, "the one photo is read six times, one face each"
    assert data["templates"] == 0 and data["frame_size"] != [640, 480]


def test_the_table_names_every_stage(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert edgeface(config, "bench", "speed", *QUICK) == 0
    out = capsys.readouterr().out
    assert all(stage in out for stage in STAGES) and "fps" in out


def test_a_missing_source_is_one_error_line(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert edgeface(config, "bench", "speed", "--source", str(tmp_path / "none.mp4")) == 1
    assert "none.mp4" in capsys.readouterr().err


def test_synthetic_gallery_is_unit_vectors_grouped_by_person() -> None:
    gallery = synthetic_gallery(12, 128, per_person=5)
    assert len(gallery) == 3 and gallery.vectors.shape == (12, 128)
    assert list(gallery.starts) == [0, 5, 10]
    np.testing.assert_allclose(np.linalg.norm(gallery.vectors, axis=1), 1.0, rtol=1e-5)
    assert len(synthetic_gallery(0, 128)) == 0


def test_letterbox_keeps_the_aspect_ratio_on_a_black_canvas() -> None:
    wide = np.full((360, 640, 3), 200, np.uint8)
    boxed = letterbox(wide, (640, 480))
    assert boxed.shape == (480, 640, 3)
    assert boxed[:60].max() == 0 and boxed[420:].max() == 0, "60-pixel bars above and below"
    assert (boxed[60:420] == 200).all()
