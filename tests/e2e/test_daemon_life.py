"""The daemon's life as its journal and its broker tell it, at the default verbosity (no -v), as systemd runs it."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from tests.support.broker import Broker, Collector, fresh_device_id
from tests.support.configs import mqtt_section, write_config
from tests.support.data import LIN
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"^\S+ \S+ (?P<line>[A-Z]+ \S+: .*)$")
"""A log line without its time stamp: ``LEVEL logger: message``."""


def journal(daemon: DaemonProcess) -> list[str]:
    """The daemon's log lines without their time stamps, decisions left out (each decision has its own line)."""
    lines = [m["line"] for m in map(LOG_LINE.match, daemon.lines()) if m]
    return [line for line in lines if "decision type=" not in line]


def retained(broker: Broker, topics: list[str]) -> dict[str, bytes]:
    """What a client subscribing now is given on ``topics``: the retained messages."""
    with Collector(broker, topics) as late:
        wait_until(lambda: len(late.messages()) >= len(topics), 5, "the retained messages")
        return {m.topic: m.payload for m in late.messages()}


def test_start_broker_and_camera_loss_and_return_and_stop_are_in_the_journal_without_v(
    tmp_path: Path, broker: Broker
) -> None:
    camera = still_frames(tmp_path / "camera", LIN)  # a face in view: presence ON
    hidden = tmp_path / "away"
    device = fresh_device_id("life")
    config = write_config(
        tmp_path / "edgeface.yaml",
        device_id=device,
        camera={"path": str(camera), "fps": 10, "reopen_max_seconds": 0.5},
        mqtt=mqtt_section(broker),
    )
    where = f"{broker.host}:{broker.port}"
    with Collector(broker, [f"edgeface/{device}/#"]) as watcher, DaemonProcess(config, verbose=False) as daemon:
        daemon.wait_for("connected to MQTT broker")
        daemon.wait_for("decision type=unknown")
        try:
            broker.stop()
            daemon.wait_for("lost the connection to MQTT broker")
        finally:
            broker.start()
        daemon.wait_for("reconnected to MQTT broker")
        camera.rename(hidden)
        daemon.wait_for(f"camera {camera} failed")
        hidden.rename(camera)
        daemon.wait_for(f"camera {camera} is back")
        presence = f"edgeface/{device}/presence"
        wait_until(lambda: retained(broker, [presence]) == {presence: b"ON"}, 10, "presence ON")
        assert daemon.terminate() == 0
    expected = [
        rf"INFO edgeface\.daemon\.loop: edgeface running as {device} \(.+\): camera file {camera}, "
        rf"model mobilefacenet_int8, 0 people enrolled, threshold 0\.\d{{3}}, liveness balanced, broker {where}",
        rf"INFO edgeface\.mqtt\.connection: connected to MQTT broker {where} ",
        rf"WARNING edgeface\.mqtt\.connection: lost the connection to MQTT broker {where} ",
        rf"INFO edgeface\.mqtt\.connection: reconnected to MQTT broker {where} ",
        rf"WARNING edgeface\.capture\.camera: camera {camera} failed: ",
        rf"INFO edgeface\.capture\.camera: camera {camera} is back",
        r"INFO edgeface\.app: received SIGTERM: stopping",
        r"INFO edgeface\.daemon\.jobs: stopped after: \d+ frames, \d+ faces",
    ]
    lines = journal(daemon)
    assert len(lines) == len(expected), lines
    assert all(re.match(e, line) for e, line in zip(expected, lines, strict=True)), lines
    # A clean stop takes back what it said while running: nobody in view, no camera watched. It says "offline"
    # first, so that a flow reads the rest as a stopped door's, not as a camera failing at a running door.
    after = retained(broker, [f"edgeface/{device}/presence", f"edgeface/{device}/health"])
    assert after[f"edgeface/{device}/presence"] == b"OFF"
    assert json.loads(after[f"edgeface/{device}/health"])["camera"] == "offline"
    last = [(m.topic.rsplit("/", 1)[1], m.payload) for m in watcher.messages()][-3:]
    assert last[0] == ("availability", b"offline") and {t for t, _ in last[1:]} == {"presence", "health"}, last


def test_ctrl_c_ends_the_daemon_with_status_130(tmp_path: Path) -> None:
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(still_frames(tmp_path / "camera", LIN))})
    with DaemonProcess(config, verbose=False) as daemon:
        daemon.wait_for("edgeface running as")
        daemon.proc.send_signal(signal.SIGINT)
        assert daemon.wait() == 130
    assert "INFO edgeface.app: received SIGINT: stopping" in journal(daemon)


def test_a_camera_missing_at_start_is_waited_for_and_checked_before_the_broker(tmp_path: Path, broker: Broker) -> None:
    camera = tmp_path / "camera"  # not there yet: an IP camera still booting after a power cut
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(camera), "fps": 10, "reopen_max_seconds": 0.5},
        mqtt=mqtt_section(broker),
    )
    with DaemonProcess(config, verbose=False) as daemon:
        daemon.wait_for("connected to MQTT broker")
        still_frames(camera, LIN)
        daemon.wait_for(f"camera {camera} is back")
        assert daemon.terminate() == 0
    lines = journal(daemon)
    assert lines[0] == (
        f"WARNING edgeface.capture.camera: {camera}: no such video file or image folder; retrying (backoff up to 0.5 s)"
    )
    assert lines[1].startswith("INFO edgeface.daemon.loop: edgeface running as ")
    assert lines[2].startswith("INFO edgeface.mqtt.connection: connected to MQTT broker ")
