"""``liveness.level``: the thresholds are the ones measured leave-one-source-out on whole webcam frames."""

from __future__ import annotations

import logging
import math
from contextlib import ExitStack
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edgeface.app import open_service
from edgeface.bench.bysource import BySourceReport
from edgeface.bench.padset import Manifest
from edgeface.bench.rates import threshold_at_bpcer
from edgeface.bench.screenfit import extract, leave_one_source_out, pad_photos
from edgeface.config import Config
from edgeface.config.liveness import LivenessConfig
from edgeface.liveness.levels import LEVEL_BPCER, LEVEL_THRESHOLDS, describe, liveness_threshold
from edgeface.liveness.minifasnet import MiniFASNet
from edgeface.ops.doctor import check_liveness
from edgeface.vision.detect import Detector
from tests.support.configs import service_config
from tests.support.data import DEMO_CLIP, SHARED

PADS = [SHARED / "pad-dev", SHARED / "pad-webcams"]


@pytest.mark.slow
def test_the_shipped_levels_are_remeasured_on_whole_frames_leave_one_source_out(
    detector: Detector, minifasnet: MiniFASNet
) -> None:
    photos = [p for pad in PADS for p in pad_photos([pad], Manifest.read(pad / "manifest.csv"))]
    data = extract(detector, minifasnet, photos)
    scores = leave_one_source_out(data)
    frames = BySourceReport(data, scores).samples("frame")
    assert len({s.subject for s in frames}) == 14  # sources with whole frames: NUAA, Silent-Face, 12 webcams
    for level, target in LEVEL_BPCER.items():
        measured = threshold_at_bpcer(frames, target)
        assert measured is not None and LEVEL_THRESHOLDS[level] == math.floor(measured * 1e4) / 1e4, level


def test_levels_order_from_convenient_to_secure() -> None:
    assert LEVEL_THRESHOLDS["convenient"] < LEVEL_THRESHOLDS["balanced"] < LEVEL_THRESHOLDS["secure"]
    assert LEVEL_BPCER == {"convenient": 0.01, "balanced": 0.05, "secure": 0.10}


def test_the_level_sets_the_threshold_unless_threshold_overrides_it() -> None:
    assert LivenessConfig().level == "balanced" and LivenessConfig().threshold is None
    assert liveness_threshold(LivenessConfig(level="secure")) == LEVEL_THRESHOLDS["secure"]
    assert liveness_threshold(LivenessConfig(level="secure", threshold=0.5)) == 0.5
    assert "level balanced: threshold 0.0823" in describe(LivenessConfig())
    assert "overrides level secure" in describe(LivenessConfig(level="secure", threshold=0.5))
    with pytest.raises(ValueError, match="level"):
        LivenessConfig(level="paranoid")  # type: ignore[arg-type]


def test_doctor_shows_the_level_whether_liveness_is_on_or_off() -> None:
    off = check_liveness(Config(liveness=LivenessConfig(enabled=False)))
    assert off.ok and off.detail.startswith("off") and "level balanced" in off.detail
    on = check_liveness(Config(liveness=LivenessConfig(enabled=True, level="convenient")))
    assert on.ok and on.detail.startswith("on: level convenient: threshold 0.0199")


def test_the_daemon_logs_the_level_it_runs_liveness_at(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = service_config(tmp_path, DEMO_CLIP, liveness=LivenessConfig(enabled=True, level="secure"))
    factory = MockFactory()
    with caplog.at_level(logging.INFO, logger="edgeface.app"), ExitStack() as stack:
        service = open_service(cfg, stack, pin_factory=factory)
        assert (
            service.pipeline.liveness is not None and service.pipeline.liveness.threshold == LEVEL_THRESHOLDS["secure"]
        )
    factory.close()
    assert "liveness on: level secure: threshold 0.2080" in caplog.text


def test_liveness_is_on_by_default_and_turning_it_off_is_warned_at_every_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert Config().liveness.enabled and check_liveness(Config()).detail.startswith("on: level balanced")
    cfg = service_config(tmp_path, DEMO_CLIP, liveness=LivenessConfig(enabled=False))
    factory = MockFactory()
    with caplog.at_level(logging.WARNING, logger="edgeface.app"), ExitStack() as stack:
        assert open_service(cfg, stack, pin_factory=factory).pipeline.liveness is None
    factory.close()
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "liveness off" in r.getMessage()]
    assert len(warned) == 1 and "photo or a screen" in warned[0].getMessage()
