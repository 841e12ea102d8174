"""What Home Assistant, Node-RED and Prometheus see of a running door: discovery, events, metrics, the log."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from edgeface.mqtt.discovery import DoorDevice, entities
from tests.support.broker import Broker, Collector, free_port, fresh_device_id
from tests.support.cli import edgeface
from tests.support.configs import mqtt_section, write_config
from tests.support.data import ROOT
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow


def test_the_node_red_flow_is_importable_and_listens_to_our_topics() -> None:
    flow = json.loads((ROOT / "deploy" / "node-red" / "flow.json").read_text())
    ids = {node["id"] for node in flow}
    subscriptions = {node["topic"] for node in flow if node["type"] == "mqtt in"}
    # Decisions and lock changes, and whether each door and its camera are up (docs/mqtt.md, "Topics").
    assert subscriptions == {"edgeface/+/event", "edgeface/+/door", "edgeface/+/availability", "edgeface/+/health"}
    for node in flow:
        for wire in node.get("wires", []):
            assert set(wire) <= ids, f"{node['id']} wires to a node that is not in the flow"
        if node["type"] == "mqtt in":
            assert node["broker"] in ids


def test_a_running_door_announces_itself_reports_faces_serves_metrics_and_keeps_an_audit_log(
    tmp_path: Path, broker: Broker
) -> None:
    device = fresh_device_id("ha")
    port = free_port()
    config = write_config(
        tmp_path / "edgeface.yaml",
        device_id=device,
        camera={"path": str(still_frames(tmp_path / "frames", count=3)), "fps": 10},
        mqtt=mqtt_section(broker),
        metrics={"port": port},
    )
    prefix = f"edgeface/{device}"
    with Collector(broker, [f"{prefix}/#", f"homeassistant/+/edgeface_{device}/+/config"]) as watcher:
        with DaemonProcess(config, verbose=False) as daemon:
            wait_until(lambda: bool(watcher.messages(f"{prefix}/event")), 30, "the stranger's event")
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            assert daemon.terminate(15) == 0
        discovery = [m for m in watcher.messages() if m.topic.startswith("homeassistant/")]
        announced = {m.topic: json.loads(m.payload) for m in discovery if m.payload}
        assert set(announced) == set(entities(DoorDevice(device, prefix)))
        assert [m.payload for m in watcher.messages(f"{prefix}/presence")][:1] == [b"ON"]
        [event] = [json.loads(m.payload) for m in watcher.messages(f"{prefix}/event")]
    # Retained: a Home Assistant that starts later still finds the door.
    with Collector(broker, [f"homeassistant/+/edgeface_{device}/+/config"]) as later:
        kept = later.wait(len(announced))
    assert {m.topic for m in kept} == set(announced) and all(m.retain for m in kept)
    assert event["type"] == "unknown"
    assert 'edgeface_decisions_total{type="unknown"} 1.0' in metrics
    assert "edgeface_broker_connected 1.0" in metrics
    assert edgeface(config, "log", "--json") == 0


def test_without_v_the_log_has_every_decision_and_the_daemons_life_but_no_chatter(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "edgeface.yaml", camera={"path": str(still_frames(tmp_path / "frames", count=3)), "fps": 10}
    )
    with DaemonProcess(config, verbose=False) as daemon:  # as systemd runs it
        line = daemon.wait_for("decision type=unknown", 30)
        assert daemon.terminate(15) == 0
    assert line.split()[2:4] == ["INFO", "edgeface.daemon.events:"], line
    # Besides the decisions, the journal holds the daemon's life at INFO: one start line, the stop signal and
    # the final counts; nothing per frame.
    life = [line for line in daemon.lines() if " INFO " in line and "edgeface.daemon.events:" not in line]
    assert len(life) == 3, life
    assert "edgeface running as" in life[0] and "people enrolled" in life[0]
    assert "received SIGTERM: stopping" in life[1]
    assert "frames" in life[2] and "decisions" in life[2]
