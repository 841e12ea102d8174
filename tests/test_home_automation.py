"""What Home Assistant, Node-RED and Prometheus see: discovery, the audit log, metrics, calibration."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeface.cli import main
from edgeface.config import Config, parse_config
from edgeface.daemon.metrics import Metrics
from edgeface.errors import StoreError
from edgeface.mqtt.discovery import announcements, entities, removals
from edgeface.mqtt.topics import Topics
from edgeface.ops.calibrate import calibrate, render_plot, set_threshold
from edgeface.storage.audit import AuditLog, parse_since
from edgeface.values import Event, EventType
from tests.support.broker import Broker, Collector, free_port
from tests.support.data import FACES, ROOT

# The keys Home Assistant's MQTT integration documents for each component we announce:
# required ones, and every one it accepts (an unknown key makes HA reject the config).
_COMMON = {
    "name", "unique_id", "device", "availability_topic", "payload_available", "payload_not_available", "icon",
    "state_topic", "value_template", "json_attributes_topic",
}  # fmt: skip
HA_SCHEMA = {
    "lock": (
        {"command_topic", "unique_id", "device"},
        _COMMON | {"command_topic", "payload_lock", "payload_unlock", "state_locked", "state_unlocked", "optimistic"},
    ),
    "sensor": ({"state_topic", "unique_id", "device"}, _COMMON | {"device_class", "unit_of_measurement"}),
    "binary_sensor": ({"state_topic", "unique_id", "device"}, _COMMON | {"device_class", "payload_on", "payload_off"}),
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}


@pytest.mark.parametrize("remote_unlock", [True, False])
def test_discovery_payloads_follow_home_assistants_schema_and_our_topics(remote_unlock: bool) -> None:
    topics = Topics("edgeface/front")
    published = {topics.event, topics.door, topics.availability, topics.presence}
    found = entities("front", "edgeface/front", remote_unlock)
    assert len(found) == 3
    for topic, payload in found.items():
        prefix, component, node, _object_id, tail = topic.split("/")
        assert (prefix, node, tail) == ("homeassistant", "edgeface_front", "config")
        required, allowed = HA_SCHEMA[component]
        assert required <= set(payload), (topic, required - set(payload))
        assert set(payload) <= allowed, (topic, set(payload) - allowed)
        assert set(payload["device"]) <= DEVICE_KEYS and payload["device"]["identifiers"] == ["edgeface_front"]
        assert payload["availability_topic"] == topics.availability
        for key in ("state_topic", "json_attributes_topic"):
            if key in payload:
                assert payload[key] in published, f"{topic}: {key} is not a topic the daemon publishes"
        if "command_topic" in payload:
            assert payload["command_topic"] == topics.command("unlock")
    components = {t.split("/")[1] for t in found}
    assert ("lock" in components) is remote_unlock


def test_announcements_are_json_and_clear_the_other_door_component() -> None:
    made = announcements("front", "edgeface/front", remote_unlock=True)
    assert made[-1].topic.startswith("homeassistant/binary_sensor/") and made[-1].payload == ""
    assert all(json.loads(a.payload) for a in made[:-1])
    assert {r.topic for r in removals("front", "edgeface/front")} >= {a.topic for a in made}
    assert all(r.payload == "" for r in removals("front", "edgeface/front"))


def test_the_node_red_flow_is_importable_and_listens_to_our_topics() -> None:
    flow = json.loads((ROOT / "deploy" / "node-red" / "flow.json").read_text())
    ids = {node["id"] for node in flow}
    subscriptions = {node["topic"] for node in flow if node["type"] == "mqtt in"}
    assert subscriptions == {"edgeface/+/event", "edgeface/+/door"}
    for node in flow:
        for wire in node.get("wires", []):
            assert set(wire) <= ids, f"{node['id']} wires to a node that is not in the flow"
        if node["type"] == "mqtt in":
            assert node["broker"] in ids


def event(kind: EventType, person: str | None) -> Event:
    return Event(str(uuid.uuid4()), "2026-11-25T10:00:00.000Z", "front", kind, person, 0.61, 3)


def test_the_audit_log_keeps_decisions_queryable_and_forgets_after_retention(tmp_path: Path) -> None:
    path = tmp_path / "people.db"
    with AuditLog(path, retention_days=30) as audit:
        audit.record(event(EventType.GRANTED, "ann"))
        audit.record(event(EventType.UNKNOWN, None))
        audit.record(event(EventType.DENIED, "bob"))
        assert [e.type for e in audit.entries()] == ["granted", "unknown", "denied"]
        assert [e.person for e in audit.entries(person="bob")] == ["bob"]
        assert audit.entries(since=parse_since("1h")) != []
        assert audit.purge(now=__import__("time").time() + 31 * 86400) == 3
        assert audit.entries() == []
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_since_takes_durations_and_dates() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("2026-11-25T00:00:00Z") == parse_since("2026-11-25")
    with pytest.raises(StoreError, match="--since"):
        parse_since("yesterday")


def test_metrics_are_served_for_prometheus(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.watch(outbox=lambda: 4, broker=lambda: 1, relay=lambda: 0, reconnects=lambda: 2)
    metrics.frames.inc(3)
    metrics.decisions.labels("granted").inc()
    with metrics.timed("detect"):
        pass
    port = metrics.serve("127.0.0.1", 0)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        metrics.close()
    assert "edgeface_frames_total 3.0" in text
    assert 'edgeface_decisions_total{type="granted"} 1.0' in text
    assert "edgeface_outbox_events 4.0" in text and "edgeface_camera_reconnects 2.0" in text
    assert 'edgeface_stage_seconds_count{stage="detect"} 1.0' in text


def test_calibration_finds_thresholds_for_each_target_far(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, 64))
    vectors = np.concatenate([c + 0.35 * rng.normal(size=(4, 64)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = [f"p{i}" for i in range(20) for _ in range(4)]
    cal = calibrate(vectors, labels)
    assert len(cal.genuine) == 20 * 6 and len(cal.impostor) == 80 * 79 // 2 - 120
    strict = [cal.thresholds[f] for f in (0.01, 0.001, 0.0001)]
    assert strict == sorted(strict), "a lower FAR needs a higher threshold"
    for far, threshold in cal.thresholds.items():
        assert (cal.impostor >= threshold).mean() <= far
    plot = render_plot(cal)
    assert cv2.imwrite(str(tmp_path / "roc.png"), plot) and plot.shape == (400, 800, 3)


def test_the_calibrated_threshold_is_written_into_the_config_keeping_comments() -> None:
    text = (ROOT / "config" / "edgeface.yaml").read_text()
    written = set_threshold(text, 0.4321)
    assert parse_config(written, "t", ROOT / "config").threshold == pytest.approx(0.4321)
    assert written.count("#") == text.count("#")
    seed = set_threshold("match:\n  distance_threshold: 0.9  # seed\n", 0.5)
    assert parse_config(seed, "t", Path()).threshold == 0.5
    assert Config().threshold != 0.4321


def test_a_running_door_announces_itself_reports_faces_serves_metrics_and_keeps_an_audit_log(
    tmp_path: Path, broker: Broker
) -> None:
    device = f"ha{uuid.uuid4().hex[:8]}"
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        shutil.copy(FACES / "unknown" / "3.jpg", frames / f"{i}.jpg")
    port = free_port()
    config = tmp_path / "edgeface.yaml"
    config.write_text(
        f"device_id: {device}\nmodels_dir: {ROOT / 'models'}\nstate_dir: state\n"
        f"camera: {{path: {frames}, fps: 10}}\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}, keepalive: 5}}\n"
        f"relay: {{pin_factory: mock}}\nmetrics: {{port: {port}}}\n"
    )
    prefix = f"edgeface/{device}"
    with Collector(broker, [f"{prefix}/#", f"homeassistant/+/edgeface_{device}/+/config"]) as watcher:
        proc = subprocess.Popen([sys.executable, "-m", "edgeface", "--config", str(config), "run"])
        try:
            deadline = time.monotonic() + 30
            while not watcher.messages(f"{prefix}/event") and time.monotonic() < deadline:
                time.sleep(0.05)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        discovery = [m for m in watcher.messages() if m.topic.startswith("homeassistant/")]
        announced = {m.topic: json.loads(m.payload) for m in discovery if m.payload}
        assert set(announced) == set(entities(device, prefix, remote_unlock=False))
        assert [m.payload for m in watcher.messages(f"{prefix}/presence")][:1] == [b"ON"]
        [event] = [json.loads(m.payload) for m in watcher.messages(f"{prefix}/event")]
    # Retained: a Home Assistant that starts later still finds the door.
    with Collector(broker, [f"homeassistant/+/edgeface_{device}/+/config"]) as later:
        kept = later.wait(len(announced))
    assert {m.topic for m in kept} == set(announced) and all(m.retain for m in kept)
    assert event["type"] == "unknown"
    assert 'edgeface_decisions_total{type="unknown"} 1.0' in metrics
    assert "edgeface_broker_connected 1.0" in metrics
    assert main(["--config", str(config), "log", "--json"]) == 0


def test_the_audit_log_command_lists_what_the_daemon_decided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edgeface.yaml"
    config.write_text(f"models_dir: {ROOT / 'models'}\nstate_dir: state\n")
    with AuditLog(tmp_path / "state" / "people.db", retention_days=365) as audit:
        audit.record(event(EventType.GRANTED, "ann"))
        audit.record(event(EventType.DENIED, "bob"))
    assert main(["--config", str(config), "log", "--json", "--person", "ann"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert (entry["type"], entry["person"]) == ("granted", "ann")
    assert main(["--config", str(config), "log", "--since", "someday"]) == 1
    assert "--since 'someday'" in capsys.readouterr().err
