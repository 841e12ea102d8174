"""What a home sees of a running door over a real broker: few stranger events with a count, Home Assistant's
Lock button, the camera's health, discovery again on reload, and the opt-in snapshot."""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

from edgeface.config import DecideConfig, MqttConfig, RemoteUnlockConfig, load_config
from edgeface.mqtt.commands import sign_unlock
from edgeface.mqtt.connection import MAX_PACKET_BYTES
from edgeface.mqtt.discovery import removals
from edgeface.ops.enroll import photos_in
from edgeface.values import DoorState
from tests.support.broker import Broker, Collector, killable_broker
from tests.support.configs import mqtt_section, service_config, write_config
from tests.support.data import DEMO_CLIP, DEMO_FACES
from tests.support.door import running_door
from tests.support.scenes import empty_scene, still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

SECRET = "a-shared-secret-for-tests"


def test_strangers_on_the_demo_clip_make_one_event_per_cooldown_and_the_next_one_counts_the_rest(
    tmp_path: Path, broker: Broker
) -> None:
    cooldown = 4.0  # the default is 60 s; short here so that a few reports fit in the test
    cfg = service_config(tmp_path, DEMO_CLIP, broker, decide=DecideConfig(stranger_cooldown_seconds=cooldown))
    with running_door(cfg, enrol=photos_in(DEMO_FACES), watch=broker) as door:
        service = door.service

        def unknown() -> list[dict[str, Any]]:
            return [e for e in door.events() if e["type"] == "unknown"]

        wait_until(lambda: len(unknown()) >= 3, 60, "three stranger reports")
        door.stop()
        metrics = service.metrics
        decided = lambda: sum(metrics.total("decisions", type=t) for t in ("granted", "denied", "unknown"))  # noqa: E731
        wait_until(lambda: len(door.events()) == decided(), 10, "every event recorded to arrive")
        reports = unknown()
        folded = metrics.total("rate_limited", what="stranger")
    # Without the gate the clip made a stranger decision about every second (243 events in 10 minutes).
    times = [datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp() for e in reports]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap > cooldown - 0.25 for gap in gaps), gaps  # 0.25 s: the report's time stamp follows the gate's
    assert folded >= len(reports), "most stranger decisions are folded, not published"
    counts = [e["suppressed"] for e in reports]
    assert counts[0] == 0 and any(n > 0 for n in counts[1:]), counts
    # Every folded decision is in some report's count, or waits for the next one.
    assert sum(counts) + service.door.strangers.folded == folded
    assert all("suppressed" not in e for e in door.events() if e["type"] != "unknown")


def test_home_assistants_lock_button_ends_an_unlock_early_signed_or_not(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.daemon.events")
    unlock = RemoteUnlockConfig(enabled=True, max_seconds=60.0, secret=SECRET)
    cfg = service_config(tmp_path, empty_scene(tmp_path / "empty"), broker, remote_unlock=unlock)
    with running_door(cfg, watch=broker) as door:
        topic = door.topic("cmd/unlock")
        signed = sign_unlock(SECRET, topic, ts=int(time.time()), nonce=secrets.token_hex(16), seconds="30")
        door.collector.send(topic, signed)
        wait_until(lambda: door.service.door.relay.state is DoorState.UNLOCKED, 10, "the signed unlock")
        door.collector.send(topic, b"LOCK")  # Home Assistant's lock.lock: plain text, never signed
        wait_until(lambda: door.service.door.relay.state is DoorState.LOCKED, 5, "the door locked again")
        assert door.pin_levels()[-2:] == [True, False]
        assert door.pin.states[-1].timestamp < 10, "locked long before the 30 s unlock would have ended"

        doors = lambda: [m.payload for m in door.collector.messages(door.topic("door"))]  # noqa: E731
        wait_until(lambda: doors()[-2:] == [b"unlocked", b"locked"], 5, "the door topic to say locked")
        door.collector.send(topic, b"LOCK")  # already locked: said again, for a Home Assistant that waits for it
        wait_until(lambda: len(doors()) >= 4 and doors()[-1] == b"locked", 5, "locked again")
        door.collector.send(topic, b"{}")  # an unsigned unlock stays refused: LOCK opened no way in
        time.sleep(0.5)
        assert door.service.door.relay.state is DoorState.LOCKED and door.pin_levels()[-1] is False
    lines = [r.getMessage() for r in caplog.records if r.name == "edgeface.daemon.events"]
    assert "remote lock: the unlock in progress ended early, door locked" in lines
    assert "remote lock: the door was already locked" in lines


def test_the_camera_health_is_retained_and_follows_an_outage(tmp_path: Path, broker: Broker) -> None:
    source = empty_scene(tmp_path / "camera")
    cfg = service_config(tmp_path, source, broker)
    with running_door(cfg, watch=broker) as door:

        def health() -> list[dict[str, object]]:
            return [json.loads(m.payload) for m in door.collector.messages(door.topic("health"))]

        wait_until(lambda: health()[-1:] == [{"camera": "online", "broker": "online"}], 10, "camera online")
        hidden = source.with_name("gone")
        source.rename(hidden)
        wait_until(lambda: health()[-1]["camera"] == "offline", 10, "camera offline")
        hidden.rename(source)
        wait_until(lambda: health()[-1]["camera"] == "online", 10, "camera back")
        assert [h["camera"] for h in health()] == ["online", "offline", "online"], "published on change only"
    with Collector(broker, [door.topic("health")]) as later:
        [kept] = later.wait(1)
    # Retained for whoever subscribes later; once the door has stopped, nothing watches its camera.
    assert kept.retain and json.loads(kept.payload)["camera"] == "offline"


def test_a_reload_announces_the_door_again_and_applies_the_snapshot_switch(tmp_path: Path, broker: Broker) -> None:
    path = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(empty_scene(tmp_path / "empty"))},
        mqtt=mqtt_section(broker),
        web={"enabled": True, "address": "127.0.0.1", "port": 0},
    )
    cfg = load_config(path)
    discovery = f"homeassistant/+/edgeface_{cfg.device_id}/+/config"
    with Collector(broker, [discovery]) as ha, running_door(cfg, config_path=path) as door:
        wait_until(lambda: len(ha.messages()) >= 5, 10, "the first announcement")
        live_page = f"http://127.0.0.1:{door.service.parts.web.port}/"  # port 0: the one the page is bound to
        first = [json.loads(m.payload) for m in ha.messages() if m.payload]
        assert {p["device"]["configuration_url"] for p in first} == {live_page}
        for removal in removals(cfg.device_id, cfg.topic_prefix):  # the owner deleted the device in HA
            ha.send(removal.topic, removal.payload, retain=True)
        seen = len(ha.messages())
        data = yaml.safe_load(path.read_text())
        data["mqtt"]["snapshot"] = True
        path.write_text(yaml.safe_dump(data))
        door.service.request_reload()
        wait_until(lambda: any(b"image_topic" in m.payload for m in ha.messages()[seen:]), 10, "the re-announcement")
    with Collector(broker, [discovery]) as later:
        time.sleep(0.5)  # every retained config arrives at once
        kept = {m.topic.split("/")[1] + "/" + m.topic.split("/")[3] for m in later.messages() if m.payload}
    assert kept == {
        "binary_sensor/door",
        "sensor/last_person",
        "event/decision",
        "binary_sensor/face",
        "binary_sensor/camera",
        "image/snapshot",
    }


def with_snapshots(broker: Broker) -> MqttConfig:
    return MqttConfig(host=broker.host, port=broker.port, keepalive=5, snapshot=True)


def test_with_snapshots_on_the_face_crop_of_a_decision_is_retained_on_the_broker_and_never_on_disk(
    tmp_path: Path, broker: Broker
) -> None:
    cfg = service_config(tmp_path, still_frames(tmp_path / "frames"), mqtt=with_snapshots(broker))
    with running_door(cfg, watch=broker) as door:
        door.wait_event("unknown")
        wait_until(lambda: bool(door.collector.messages(door.topic("snapshot"))), 10, "the snapshot")
    jpeg = door.collector.messages(door.topic("snapshot"))[0].payload
    crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and 64 <= max(crop.shape[:2]) <= 320
    # Larger than what the door lets the broker send *it*: that limit is on incoming packets only.
    assert len(jpeg) > MAX_PACKET_BYTES
    with Collector(broker, [door.topic("snapshot")]) as later:
        [kept] = later.wait(1)
    assert kept.retain and kept.payload == jpeg
    header = jpeg[:160]  # the JFIF header and quantisation tables: the same for any crop the door encodes
    for file in (tmp_path / "state").rglob("*"):
        assert not file.is_file() or header not in file.read_bytes(), f"{file} holds a face crop"


def test_snapshots_are_off_by_default(tmp_path: Path, broker: Broker) -> None:
    cfg = service_config(tmp_path, still_frames(tmp_path / "frames"), broker)
    with running_door(cfg, watch=broker) as door:
        door.wait_event("unknown")
        time.sleep(0.5)
        assert door.collector.messages(door.topic("snapshot")) == []


def test_a_snapshot_too_big_for_the_broker_is_skipped_with_one_warning_and_the_door_stays_connected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edgeface.mqtt")
    with killable_broker(tmp_path / "broker", extra="max_packet_size 3000\n") as small:
        cfg = service_config(tmp_path, still_frames(tmp_path / "frames"), mqtt=with_snapshots(small))
        with running_door(cfg, watch=small) as door:
            door.wait_event("unknown")
            wait_until(lambda: any("snapshot of" in r.getMessage() for r in caplog.records), 10, "the warning")
            time.sleep(0.5)
            assert door.service.parts.events.connected
            assert door.collector.messages(door.topic("snapshot")) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    [skipped] = [w for w in warnings if "snapshot of" in w]
    assert "at most 3000 bytes (its max_packet_size)" in skipped
    assert not any("lost the connection" in w for w in warnings), warnings
