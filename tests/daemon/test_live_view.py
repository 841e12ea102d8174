"""The live view page: the real daemon serving it, read over plain HTTP and loaded in headless Chromium."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import struct
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from edgeface.config import CameraConfig, RemoteUnlockConfig, WebConfig
from edgeface.daemon.httpserve import IDLE_SECONDS, MAX_CONNECTIONS
from edgeface.daemon.web import BOUNDARY, LiveView
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.people import Store
from edgeface.vision.quality import rejection
from edgeface.vision.recognize import Recognizer
from tests.support.boxes import boxed
from tests.support.broker import Broker
from tests.support.chromium import Chromium, Tab
from tests.support.configs import service_config, write_config
from tests.support.data import LIN
from tests.support.door import Door, running_door
from tests.support.events import EVENT_KEYS
from tests.support.process import DaemonProcess
from tests.support.scenes import crowd_photos, empty_scene, still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

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


@pytest.fixture
def crowd_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess, int, list[Path]]]:
    """``edgeface run`` with the live view on a camera that shows two street crowds by turns, frame after frame."""
    root = tmp_path_factory.mktemp("crowd")
    photos = crowd_photos(root / "photos")
    camera = root / "camera"
    camera.mkdir()
    for i in range(6):
        shutil.copy(photos[i % 2], camera / f"{i:03d}.jpg")
    config = write_config(
        root / "edgeface.yaml",
        camera={"path": str(camera), "fps": 5},  # slower than the loop: it sees every picture, by turns
        # Detected at the size `edgeface identify` uses, so the door sees the faces identify finds.
        detector={"live_max_side": 640},
        web={"enabled": True, "address": "127.0.0.1", "port": 0, "fps": 10},
    )
    with DaemonProcess(config) as daemon:
        match = re.search(r":(\d+)/", daemon.wait_for(r"live view on http://127\.0\.0\.1:\d+/"))
        assert match is not None
        yield daemon, int(match.group(1)), photos
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
    assert (
        health["liveness"].startswith("level balanced")
        and health["target_far"] == 0.001
        and 0.3 < health["match_threshold"] < 0.5
    )
    wait_until(lambda: any(e["type"] == "unknown" for e in get_json(port, "/events.json")), 20, "an unknown event")
    event = next(e for e in get_json(port, "/events.json") if e["type"] == "unknown")
    assert set(event) >= EVENT_KEYS
    assert event["id"] in daemon.event_ids()


PAGE_FACTS = """(() => {
  const box = (el) => { const b = el.getBoundingClientRect(); return {left: b.left, right: b.right, top: b.top,
    bottom: b.bottom, width: b.width}; };
  const texts = (sel) => [...document.querySelectorAll(sel)].map((el) => el.textContent);
  const badge = document.getElementById("door");
  return {
    innerWidth, scrollWidth: document.scrollingElement.scrollWidth, data: {...document.body.dataset},
    badge: badge.textContent, badgeClass: badge.className,
    headers: texts("#events thead th"),
    health: Object.fromEntries([...document.querySelectorAll("#health tr")].map(
      (tr) => [tr.cells[0].textContent, tr.cells[1].textContent])),
    events: [...document.querySelectorAll("#events tr.event")].map((tr) => ({
      decision: tr.cells[1].textContent, decisionClass: tr.cells[1].className,
      when: tr.cells[0].textContent, title: tr.querySelector("time").title,
      datetime: tr.querySelector("time").dateTime})),
    text: document.body.innerText,
    tables: [...document.querySelectorAll("table")].map((t) => [t.id, t.scrollWidth, t.clientWidth]),
    wider: [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5)
      .map((el) => el.tagName + "#" + el.id),
    stream: box(document.getElementById("stream")), side: box(document.getElementById("health")),
  };
})()"""
ZONE = "Asia/Kolkata"
"""The browser's time zone in the page tests: not UTC, and half an hour off whole hours."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with Chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


def open_page(browser: Chromium, port: int, width: int, height: int) -> Tab:
    """The live page at ``width`` × ``height`` in :data:`ZONE`, once it has polled and shown a frame."""
    tab = browser.tab("about:blank", width, height)
    tab.send("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    tab.send("Emulation.setLocaleOverride", {"locale": "en-GB"})
    tab.send("Page.navigate", {"url": f"http://127.0.0.1:{port}/"})
    ready = "!!document.body && Number(document.body.dataset.polls) >= 1 && Number(document.body.dataset.frames) >= 1"
    wait_until(lambda: tab.evaluate(ready) is True, 30, "the page polled and streamed")
    return tab


def listed_events(tab: Tab) -> list[dict[str, str]]:
    """The rows of the page's events table as the page shows them, newest first (see PAGE_FACTS)."""
    facts: list[dict[str, str]] = tab.evaluate(PAGE_FACTS)["events"]
    return facts


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_the_page_in_headless_chromium_fits_the_screen_and_speaks_plainly(
    live_daemon: tuple[DaemonProcess, int], browser: Chromium, tmp_path: Path, width: int, height: int
) -> None:
    daemon, port = live_daemon
    daemon.wait_for("decision type=unknown")
    with open_page(browser, port, width, height) as tab:
        wait_until(lambda: listed_events(tab) != [], 10, "the page lists the stranger")
        shot = tab.screenshot(tmp_path / f"live-{width}x{height}.png")
        page = tab.evaluate(PAGE_FACTS)
        where = f"(screenshot {shot})"
        assert "error" not in page["data"], page["data"]
        assert re.fullmatch(r"[1-9]\d*x[1-9]\d*", page["data"].get("stream", "")), page["data"]

        assert page["innerWidth"] == width, "the page sets a viewport for phones"
        assert page["scrollWidth"] <= page["innerWidth"], f"the page scrolls sideways {where}"
        assert page["wider"] == [], f"elements run off the screen {where}"
        assert all(scroll <= client for _, scroll, client in page["tables"]), page["tables"]
        if width < 600:
            assert page["stream"]["bottom"] <= page["side"]["top"], f"one column on a phone {where}"
            assert page["stream"]["width"] >= width - 40, f"the stream as wide as the phone {where}"
        else:
            assert page["stream"]["right"] <= page["side"]["left"], f"stream beside the tables {where}"
            assert page["stream"]["width"] >= width / 2, f"the stream gets most of the width {where}"

        assert (page["badge"], page["badgeClass"]) == ("Door locked", "locked")
        assert page["headers"] == ["When", "Decision", "Person", "Similarity"]
        health = page["health"]
        assert health["People enrolled"] == "1" and health["Camera"] == "online"
        assert health["MQTT broker"] == "not connected" and health["Liveness check"].startswith("level balanced")
        assert health["Target false accepts"] == "0.1 % of attempts" and re.fullmatch(
            r"0\.\d{3}", health["Match threshold"]
        )
        assert re.fullmatch(r"\d+ s|\d+ min \d+ s", health["Uptime"]), health
        assert not [key for key in HEALTH_KEYS if key in page["text"]], "no raw JSON keys on the page"

        stranger = next(e for e in page["events"] if e["decision"] == "unknown")
        assert stranger["decisionClass"] == "unknown"
        assert re.fullmatch(r"just now|\d+ s ago|\d+ min ago", stranger["when"]), stranger
        local = datetime.fromisoformat(stranger["datetime"].replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
        assert local.strftime("%H:%M:%S") in stranger["title"], f"the local time on hover: {stranger}"
        assert stranger["datetime"].endswith("Z") and local.utcoffset() != timedelta(0)


UNLOCK_SECONDS = 1.5
"""The remote unlock the badge test sends: long enough to read the badge while the relay is energised."""
BADGE = "(d => [d.textContent, getComputedStyle(d).backgroundColor])(document.getElementById('door'))"


def badge_while(door: Door, tab: Tab, *, energised: bool) -> list[str] | None:
    """The badge's text and colour if the relay stayed ``energised`` while the page was read, else None."""
    before = door.pin.state
    badge: list[str] = tab.evaluate(BADGE)
    return badge if before is door.pin.state is energised else None


def test_the_badge_follows_a_real_remote_unlock_and_the_unlock_is_listed(
    tmp_path: Path, broker: Broker, browser: Chromium
) -> None:
    cfg = service_config(
        tmp_path,
        empty_scene(tmp_path / "empty"),
        broker,
        remote_unlock=RemoteUnlockConfig(enabled=True, max_seconds=UNLOCK_SECONDS),
        camera=CameraConfig(path=str(tmp_path / "empty"), fps=5.0, loop=True),
        web=WebConfig(enabled=True, port=0),
    )
    with running_door(cfg, watch=broker) as door:
        assert door.service.parts.web.port is not None
        with open_page(browser, door.service.parts.web.port, 1280, 800) as tab:
            text, locked_colour = tab.evaluate(BADGE)
            assert text == "Door locked" and door.pin.state is False

            door.collector.send(door.topic("cmd/unlock"), json.dumps({"seconds": UNLOCK_SECONDS}))
            wait_until(lambda: door.pin.state is True, 5, "the relay energised")

            opened: list[list[str]] = []

            def reads_unlocked() -> bool:
                assert door.pin.state, (
                    f"the relay was released before the badge read 'Door unlocked' {tab.evaluate(BADGE)}"
                )
                badge = badge_while(door, tab, energised=True)
                if badge is not None and badge[0] == "Door unlocked":
                    opened.append(badge)
                return bool(opened)

            wait_until(
                reads_unlocked, UNLOCK_SECONDS + 1, "the badge reading 'Door unlocked' while the relay is energised"
            )
            assert opened[0][1] != locked_colour, "an open door stands out"
            wait_until(lambda: door.pin.state is False, UNLOCK_SECONDS + 3, "the relay released")
            wait_until(
                lambda: badge_while(door, tab, energised=False) == ["Door locked", locked_colour],
                5,
                "'Door locked' again",
            )
            assert door.pulses() == [pytest.approx(UNLOCK_SECONDS, abs=0.15)]

            unlock = door.wait_event("granted")
            assert unlock["reason"] == "remote"
            wait_until(lambda: any(e["datetime"] == unlock["ts"] for e in listed_events(tab)), 5, "the unlock listed")
            row = next(e for e in listed_events(tab) if e["datetime"] == unlock["ts"])
            assert (row["decision"], row["decisionClass"]) == ("granted · remote", "granted")
            assert re.fullmatch(r"just now|\d s ago", row["when"]), row


def test_every_face_identify_finds_is_boxed_on_the_very_frame_it_was_found_in(
    crowd_daemon: tuple[DaemonProcess, int, list[Path]], recognizer: Recognizer
) -> None:
    _, port, photos = crowd_daemon
    pictures = [cv2.imread(str(photo)) for photo in photos]
    found = [recognizer.detect(picture) for picture in pictures]
    small = [[f for f in recognizer.detector.detect(p) if f.size < recognizer.gates.min_face] for p in pictures]
    gated = [[rejection(p, f, recognizer.gates) for f in faces] for p, faces in zip(pictures, found, strict=True)]
    assert min(map(len, found)) >= 4 and "turned" in gated[0] and small[0], "a crowd with a face turned away"
    shown: set[int] = set()
    for part in read_parts(port, 30):
        frame = cv2.imdecode(np.frombuffer(part, np.uint8), cv2.IMREAD_COLOR)
        # Which picture this frame is: boxes change a few pixels, the other crowd most of them.
        at = int(np.argmin([np.abs(frame.astype(np.int16) - p).mean() for p in pictures]))
        shown.add(at)
        picture, other = pictures[at], found[1 - at]
        styles = [boxed(frame, picture, face) for face in found[at]]
        assert styles == ["unused" if why else "unknown" for why in gated[at]], (at, styles, gated[at])
        assert all(boxed(frame, picture, face) == "unused" for face in small[at]), "a small face is drawn too"
        assert all(boxed(frame, picture, face) is None for face in other), "a box from the other frame"
        if shown == {0, 1}:
            break
    assert shown == {0, 1}, "the camera showed both crowds"


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
        for client in clients[:20]:  # beyond the bound the longest idle make way: closed at once
            assert client.recv(1) == b""
        clients[-1].settimeout(IDLE_SECONDS + 5)
        started = time.monotonic()
        assert clients[-1].recv(1) == b"", "an idle connection is closed"
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


def test_a_request_naming_another_host_is_refused_so_dns_rebinding_reads_nothing(
    live_daemon: tuple[DaemonProcess, int],
) -> None:
    _, port = live_daemon

    def status(host: str, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            response.read(100)
            return response.status
        finally:
            conn.close()

    for path in ("/events.json", "/health.json", "/stream.mjpg", "/"):
        assert status("rebound.attacker.example", path) == 421, path
    for host in (f"127.0.0.1:{port}", "localhost", f"localhost:{port}", f"[::1]:{port}", socket.gethostname()):
        assert status(host, "/health.json") == 200, host


def test_slow_clients_holding_every_slot_keep_out_neither_a_poll_nor_a_viewer(
    live_daemon: tuple[DaemonProcess, int],
) -> None:
    _, port = live_daemon
    # 200 clients that each send half a request and then a header byte now and then: none ever finishes.
    slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(200)]
    try:
        for client in slow:
            with contextlib.suppress(OSError):
                client.sendall(b"GET /health.json HTTP/1.1\r\nX-Slow: ")
        assert get_json(port, "/health.json")["frames_processed"] > 0
        assert len(read_parts(port, 2)) == 2, "a viewer gets frames"
    finally:
        for client in slow:
            client.close()


def test_viewers_that_hardly_read_make_way_for_one_that_does(live_daemon: tuple[DaemonProcess, int]) -> None:
    _, port = live_daemon
    hogs = []
    try:
        for _ in range(MAX_CONNECTIONS):  # every slot, were streams not capped at MAX_STREAMS
            hog = socket.create_connection(("127.0.0.1", port), timeout=5)
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            hog.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads a byte
            hogs.append(hog)
        time.sleep(1.0)
        assert len(read_parts(port, 3)) == 3, "a viewer that reads gets frames"
    finally:
        for hog in hogs:
            hog.close()
