"""The live view page: the real daemon serving it, read over plain HTTP and loaded in headless Chromium."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edgeface.daemon.httpserve import IDLE_SECONDS, MAX_CONNECTIONS
from edgeface.daemon.web import BOUNDARY, LiveView
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.people import Store
from edgeface.vision.recognize import Recognizer
from tests.support.configs import write_config
from tests.support.data import LIN
from tests.support.events import EVENT_KEYS
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until

CHROMIUM = Path("/usr/bin/chromium")
HEALTH_KEYS = {
    "people_enrolled", "frames_processed", "broker_connected", "camera_online", "door", "uptime_seconds",
    "match_threshold", "target_far", "liveness",
}  # fmt: skip


@pytest.fixture(scope="module")
def live_daemon(
    tmp_path_factory: pytest.TempPathFactory, recognizer: Recognizer
) -> Iterator[tuple[DaemonProcess, int]]:
    """``edgeface run`` with the live view on a free port, one person enrolled, a stranger before the camera."""
    root = tmp_path_factory.mktemp("web")
    camera = still_frames(root / "camera")
    config = write_config(
        root / "edgeface.yaml",
        camera={"path": str(camera), "fps": 15},
        web={"enabled": True, "address": "127.0.0.1", "port": 0, "fps": 10},
    )
    with Store(root / "state" / "people.db") as store:
        assert [r.outcome.value for r in enroll_photos(recognizer, store, [("lin", LIN)])] == ["enrolled"]
    with DaemonProcess(config) as daemon:
        line = daemon.wait_for(r"live view on http://127\.0\.0\.1:\d+/")
        match = re.search(r":(\d+)/", line)
        assert match is not None
        yield daemon, int(match.group(1))
        assert daemon.terminate() == 0


def get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "application/json"
        return json.loads(response.read())
    finally:
        conn.close()


def read_parts(port: int, count: int) -> list[bytes]:
    """The first ``count`` JPEG parts of the MJPEG stream."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/stream.mjpg")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        parts: list[bytes] = []
        while len(parts) < count:
            assert response.readline().strip() == f"--{BOUNDARY}".encode()
            headers = {}
            while (line := response.readline().strip()) != b"":
                key, value = line.decode().split(":", 1)
                headers[key.lower()] = value.strip()
            assert headers["content-type"] == "image/jpeg"
            parts.append(response.read(int(headers["content-length"])))
            assert response.readline() == b"\r\n"
        return parts
    finally:
        conn.close()


def test_the_stream_serves_decodable_frames_and_health_and_events_are_json(
    live_daemon: tuple[DaemonProcess, int],
) -> None:
    daemon, port = live_daemon
    parts = read_parts(port, 2)
    for part in parts:
        image = cv2.imdecode(np.frombuffer(part, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 0 and image.shape[1] > 0
    health = get_json(port, "/health.json")
    assert set(health) == HEALTH_KEYS
    assert health["people_enrolled"] == 1 and health["door"] == "locked" and health["camera_online"] is True
    assert health["broker_connected"] is False and health["frames_processed"] > 0
    assert health["liveness"] == "off" and health["target_far"] == 0.001 and 0.3 < health["match_threshold"] < 0.5
    wait_until(lambda: any(e["type"] == "unknown" for e in get_json(port, "/events.json")), 20, "an unknown event")
    event = next(e for e in get_json(port, "/events.json") if e["type"] == "unknown")
    assert set(event) >= EVENT_KEYS
    assert event["id"] in daemon.event_ids()


def test_the_page_in_headless_chromium_shows_the_stream_and_an_unknown_event(
    live_daemon: tuple[DaemonProcess, int], tmp_path: Path
) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: deploy/test-tools.sh installs it (make test)"
    daemon, port = live_daemon
    daemon.wait_for("decision type=unknown")
    browser = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    dom = browser.stdout
    assert browser.returncode == 0, browser.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:2000]
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', body.group(1)))
    assert "error" not in attrs, attrs
    assert int(attrs["polls"]) >= 1, attrs
    assert int(attrs["frames"]) >= 1 and re.fullmatch(r"[1-9]\d*x[1-9]\d*", attrs.get("stream", "")), attrs
    assert '<td class="unknown">unknown</td>' in dom
    assert re.search(r"<td>people_enrolled</td><td>1</td>", dom)


def test_nothing_is_encoded_while_nobody_watches() -> None:
    view = LiveView(fps=5.0)
    view.show(np.zeros((48, 64, 3), np.uint8), [])
    assert not view.watching
    assert view.next_frame(0, timeout=0.05) == (0, None)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_connections_are_bounded_then_closed_and_the_door_keeps_deciding(
    live_daemon: tuple[DaemonProcess, int],
) -> None:
    daemon, port = live_daemon
    frames = get_json(port, "/health.json")["frames_processed"]
    time.sleep(0.5)  # the poll's own connection is closed by now
    idle_fds = open_fds(daemon.pid)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]  # none sends a byte
    try:
        time.sleep(0.5)
        assert open_fds(daemon.pid) <= idle_fds + MAX_CONNECTIONS, "a descriptor per idle connection"
        for client in clients[-20:]:  # beyond the bound: closed at once, costing the daemon nothing
            assert client.recv(1) == b""
        clients[0].settimeout(IDLE_SECONDS + 5)
        started = time.monotonic()
        assert clients[0].recv(1) == b"", "an idle connection is closed"
        assert time.monotonic() - started <= IDLE_SECONDS + 1
        wait_until(lambda: open_fds(daemon.pid) <= idle_fds + 2, 5, "the idle connections closed")
    finally:
        for client in clients:
            client.close()
    assert get_json(port, "/health.json")["frames_processed"] > frames + 10, "the frame loop went on meanwhile"


def test_viewers_that_vanish_mid_request_leave_no_traceback(live_daemon: tuple[DaemonProcess, int]) -> None:
    daemon, port = live_daemon
    for path in ["/", "/stream.mjpg", "/health.json", "/events.json"] * 10:
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: door\r\n\r\n".encode())
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not a clean close
        client.close()
    assert len(read_parts(port, 1)) == 1, "the stream still serves"
    problems = [line for line in daemon.lines() if "Traceback" in line or "Exception occurred" in line]
    assert not problems, "\n".join(daemon.lines()[-40:])
