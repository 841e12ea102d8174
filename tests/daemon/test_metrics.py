"""The daemon's metrics, served for Prometheus."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

from edgeface.daemon.httpserve import MAX_CONNECTIONS
from edgeface.daemon.metrics import Metrics


def test_metrics_are_served_for_prometheus(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.watch(
        outbox=lambda: 4, broker=lambda: 1, relay=lambda: 0, reconnects=lambda: 2, threshold=lambda: 0.47,
        target_far=lambda: 0.001,
    )  # fmt: skip
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
    assert "edgeface_match_threshold 0.47" in text and "edgeface_match_target_far 0.001" in text
    assert 'edgeface_decisions_total{type="granted"} 1.0' in text
    assert "edgeface_outbox_events 4.0" in text and "edgeface_camera_reconnects 2.0" in text
    assert 'edgeface_stage_seconds_count{stage="detect"} 1.0' in text


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
