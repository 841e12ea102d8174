"""The daemon's metrics, served for Prometheus."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from edgeface import __version__
from edgeface.daemon.httpserve import MAX_CONNECTIONS
from edgeface.daemon.metrics import RATE_LIMITED, Metrics
from edgeface.values import EventType
from tests.support.broker import free_port
from tests.support.configs import write_config
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames

pytestmark = pytest.mark.slow


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def test_metrics_are_served_for_prometheus(tmp_path: Path) -> None:
    metrics = Metrics(model="edgeface_xs")
    metrics.watch(
        outbox=lambda: 4, broker=lambda: 1, relay=lambda: 0, reconnects=lambda: 2, threshold=lambda: 0.47,
        target_far=lambda: 0.001,
    )  # fmt: skip
    metrics.frames.inc(3)
    metrics.decisions.labels("granted").inc()
    metrics.observe_stage("detect", 0.004)
    port = metrics.serve("127.0.0.1", 0)
    try:
        text = scrape(port)
    finally:
        metrics.close()
    assert "edgeface_frames_total 3.0" in text
    assert "edgeface_match_threshold 0.47" in text and "edgeface_match_target_far 0.001" in text
    assert 'edgeface_decisions_total{type="granted"} 1.0' in text
    assert "edgeface_outbox_events 4.0" in text
    assert "# TYPE edgeface_camera_reconnects_total counter" in text and "edgeface_camera_reconnects_total 2.0" in text
    assert 'edgeface_stage_seconds_count{stage="detect"} 1.0' in text
    assert f'edgeface_build_info{{model="edgeface_xs",version="{__version__}"}} 1.0' in text
    assert metrics.total("camera_reconnects") == 2


def test_every_decision_type_and_rate_limit_is_exported_from_the_start_and_no_created_series() -> None:
    metrics = Metrics()
    port = metrics.serve("127.0.0.1", 0)
    try:
        text = scrape(port)
    finally:
        metrics.close()
    for kind in EventType:
        assert f'edgeface_decisions_total{{type="{kind.value}"}} 0.0' in text
    for what in RATE_LIMITED:
        assert f'edgeface_rate_limited_total{{what="{what}"}} 0.0' in text
    assert "_created" not in text
    assert metrics.registry.get_sample_value("edgeface_frames_created") is not None, "the registry itself keeps them"


def test_promtool_finds_nothing_to_fix_in_a_running_daemons_metrics(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(still_frames(tmp_path / "frames", count=3)), "fps": 10},
        metrics={"port": port},
    )
    with DaemonProcess(config, verbose=False) as daemon:
        daemon.wait_for("decision type=unknown", 30)
        text = scrape(port)
        assert daemon.terminate(15) == 0
    assert 'edgeface_decisions_total{type="unknown"} 1.0' in text
    assert 'edgeface_build_info{model="' in text
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    # promtool exits 0 on lint problems too and prints them: no output is the pass.
    assert (done.returncode, done.stdout + done.stderr) == (0, ""), done.stdout + done.stderr


def test_idle_connections_to_the_metrics_port_cost_at_most_a_bounded_number_of_threads() -> None:
    metrics = Metrics()
    port = metrics.serve("127.0.0.1", 0)
    threads = threading.active_count()
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(60)]
    try:
        time.sleep(0.5)
        assert threading.active_count() <= threads + MAX_CONNECTIONS
        assert all(client.recv(1) == b"" for client in clients[-20:]), "connections beyond the bound are closed"
    finally:
        for client in clients:
            client.close()
        metrics.close()
