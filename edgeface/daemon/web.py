"""The live view: a small local web page of what the camera sees, the last events and the daemon's health.

Off by default (``web.enabled``). Standard library only: a bounded ThreadingHTTPServer
(:mod:`edgeface.daemon.httpserve`: a few connections at once, idle ones closed) on a daemon thread serves

- ``/``              the page (:mod:`edgeface.daemon.webpage`: inline HTML and JS, no external assets);
- ``/stream.mjpg``   the latest frame with every detected face drawn on it, as an MJPEG stream
                     (multipart/x-mixed-replace), at most ``web.fps``;
- ``/events.json``   the last events, each as the MQTT event JSON, newest first;
- ``/health.json``   people enrolled, frames processed, broker link, camera, door state, uptime;
- ``/recent.json``, ``POST /enrol``  the recent unknown faces, and enrolling one with the page's token
                     (:mod:`edgeface.daemon.recentweb`).

The frame loop calls :meth:`LiveView.show` on every frame with the frame pipeline's outcomes (each face
the detector found: used, and with which match, or why not); the page draws them as they are and never
works a face's fate out again. The faces are drawn onto that frame's own image and encoded at once, so a
box can never sit on another frame than its own. This happens
at most ``fps`` times a second and only while a viewer is connected, so the view costs nothing when nobody
looks. Each viewer always gets the newest frame: a slow client skips frames, it never receives a backlog.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from http import HTTPStatus

import cv2

from edgeface.daemon.httpserve import MAX_CONNECTIONS, BoundedServer, QuietHandler, stop_server
from edgeface.daemon.recentweb import MAX_BODY, RecentPage
from edgeface.daemon.webpage import PAGE
from edgeface.values import Event, Image
from edgeface.vision.annotate import annotate
from edgeface.vision.pipeline import FaceOutcome

log = logging.getLogger(__name__)

BOUNDARY = "edgefaceframe"
MAX_STREAMS = MAX_CONNECTIONS // 2
"""Streams served at once: the other half of the connections stays for the page, its JSON polls and newcomers."""
JPEG_QUALITY = 80
EVENTS_KEPT = 20


class LiveView:
    """What the page shows, fed by the frame loop; :meth:`serve` starts the HTTP server."""

    def __init__(self, fps: float = 5.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / fps
        self.clock = clock
        self.health: Callable[[], dict[str, object]] = dict
        """The daemon's health figures (the service sets it); uptime is added here."""
        self._started = clock()
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._viewers = 0
        self._last_encode = float("-inf")
        self._events: deque[dict[str, object]] = deque(maxlen=EVENTS_KEPT)
        self._closed = False
        self.recent: RecentPage | None = None
        """The recent unknown faces and enrolling them (:mod:`edgeface.daemon.recentweb`); None: not offered."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        """The port the page is served on, once :meth:`serve` has bound it."""

    @property
    def watching(self) -> bool:
        """Whether a viewer is connected to the stream."""
        return self._viewers > 0

    def show(self, image: Image, outcomes: Sequence[FaceOutcome]) -> None:
        """Offer a frame and its faces: drawn and encoded only while watched and at most ``fps`` times a second."""
        if not self.watching or self.clock() - self._last_encode < self.interval:
            return
        self._last_encode = self.clock()
        ok, buf = cv2.imencode(".jpg", annotate(image, outcomes), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            log.warning("live view: a frame could not be encoded as JPEG")
            return
        with self._cond:
            self._jpeg, self._seq = buf.tobytes(), self._seq + 1
            self._cond.notify_all()

    def add_event(self, event: Event) -> None:
        with self._cond:
            self._events.appendleft(event.to_dict())

    def events(self) -> list[dict[str, object]]:
        """The last events, newest first."""
        with self._cond:
            return list(self._events)

    def health_report(self) -> dict[str, object]:
        try:
            report = dict(self.health())
        except Exception:  # the page must keep working if a figure cannot be read
            log.exception("live view: cannot read the health figures")
            report = {}
        report["uptime_seconds"] = round(self.clock() - self._started, 1)
        return report

    def next_frame(self, after: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        """The newest frame newer than sequence number ``after``, waiting up to ``timeout``; (after, None) if none."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._seq > after and self._jpeg is not None), timeout)
            if self._closed or self._seq <= after:
                return after, None
            return self._seq, self._jpeg

    def _viewer(self, delta: int) -> None:
        with self._cond:
            self._viewers += delta

    @property
    def closed(self) -> bool:
        return self._closed

    def serve(self, address: str, port: int, hosts: Sequence[str] = ()) -> int:
        """Start the page's server on a daemon thread; returns the bound port (useful with port 0).

        ``hosts``: the names, besides IP addresses and this machine's own, the page may be asked for by."""
        server = _Server((address, port), _Handler, what="live view", key="web", hosts=hosts)
        server.view = self
        self._server = server
        self._thread = server.start("edgeface-web")
        self.port = bound = int(server.server_address[1])
        log.info("live view on http://%s:%d/", address, bound)
        return bound

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        stop_server(self._server, self._thread)
        self._server, self._thread = None, None


class _Server(BoundedServer):
    view: LiveView
    streams: dict[_Handler, tuple[float, int]]
    """Each stream being served → when it began, and how many frames it has taken since."""
    streams_lock: threading.Lock

    def server_activate(self) -> None:
        self.streams, self.streams_lock = {}, threading.Lock()
        super().server_activate()

    def stream_started(self, handler: _Handler) -> None:
        """Count a new stream in; at :data:`MAX_STREAMS`, the one taking the fewest frames a second is dropped,
        so viewers that hardly read cannot keep the others (or the page's requests) out."""
        now = time.monotonic()
        with self.streams_lock:
            if len(self.streams) >= MAX_STREAMS:
                slowest = min(self.streams, key=lambda h: self.streams[h][1] / max(now - self.streams[h][0], 1e-3))
                del self.streams[slowest]
                log.info("live view: %d streams already, dropping the slowest viewer", MAX_STREAMS)
                with contextlib.suppress(OSError):
                    slowest.connection.shutdown(socket.SHUT_RDWR)
            self.streams[handler] = (now, 0)

    def stream_sent(self, handler: _Handler) -> None:
        with self.streams_lock:
            if handler in self.streams:
                started, frames = self.streams[handler]
                self.streams[handler] = (started, frames + 1)

    def stream_ended(self, handler: _Handler) -> None:
        with self.streams_lock:
            self.streams.pop(handler, None)


class _Handler(QuietHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        view = self.server.view
        if path == "/":
            self.send_body(PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/events.json":
            self.send_body(json.dumps(view.events()).encode(), "application/json")
        elif path == "/health.json":
            self.send_body(json.dumps(view.health_report(), default=str).encode(), "application/json")
        elif path == "/stream.mjpg":
            self._stream(view)
        elif path == "/recent.json" and view.recent is not None:
            listing = view.recent.listing(self.headers.get("Authorization"))
            self.send_body(json.dumps(listing).encode(), "application/json")
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        view = self.server.view
        if self.path.split("?", 1)[0] != "/enrol" or view.recent is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length else HTTPStatus.LENGTH_REQUIRED)
            return
        status, reply = view.recent.enrol(self.headers.get("Authorization"), self.rfile.read(length))
        self.send_body(json.dumps(reply).encode(), "application/json", status)

    def _stream(self, view: LiveView) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.close_connection = True
        view._viewer(+1)
        self.server.stream_started(self)
        seq = 0
        try:
            self.end_headers()
            while not view.closed:
                seq, jpeg = view.next_frame(seq)
                if jpeg is None:
                    continue
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                self.wfile.flush()
                self.server.stream_sent(self)
        except (ConnectionError, TimeoutError, OSError):  # OSError: dropped for another viewer
            log.debug("live view: a stream viewer left")
        finally:
            self.server.stream_ended(self)
            view._viewer(-1)
