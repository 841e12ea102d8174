"""The demo `make run` plays: both of its people are let in, on the shipped config and threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeface.config import Config, MqttConfig, load_config
from edgeface.ops.enroll import scan_faces
from edgeface.vision.threshold import ThresholdPolicy
from tests.support.broker import Broker, fresh_device_id
from tests.support.data import DEMO_FACES, ROOT
from tests.support.door import running_door
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

DEMO_CONFIG = ROOT / "config" / "demo" / "edgeface.yaml"


def test_the_demo_grants_both_of_its_people_without_a_looser_threshold(tmp_path: Path, broker: Broker) -> None:
    shipped = load_config(DEMO_CONFIG)
    assert shipped.match.threshold is None and shipped.match.target_far == 1e-3, "the default threshold policy"
    mqtt = MqttConfig(host=broker.host, port=broker.port, keepalive=5)
    cfg = shipped.model_copy(update={"state_dir": tmp_path / "state", "device_id": fresh_device_id(), "mqtt": mqtt})
    with running_door(cfg, enrol=scan_faces(DEMO_FACES).photos, watch=broker) as door:

        def granted() -> set[str]:
            return {e["person"] for e in door.events() if e["type"] == "granted"}

        # One pass of the clip at the demo's 15 frames a second is 18 s.
        wait_until(lambda: granted() >= {"alex_lacamoire", "lin_manuel_miranda"}, 40, "both demo people granted")
        assert granted() == {"alex_lacamoire", "lin_manuel_miranda"}, "nobody else in the clip is let in"
        default = ThresholdPolicy.from_config(Config()).for_gallery(
            door.service.pipeline.recognizer.gallery.template_count
        )
        assert door.service.pipeline.recognizer.threshold == default.value
