"""The small HTTP servers the daemon runs on background threads (metrics, live view), bounded.

Standard library ``http.server`` with a thread per connection, and two bounds it lacks by itself:

- at most :data:`MAX_CONNECTIONS` connections are served at once; one more is closed as soon as it is
  accepted, so a flood of connections costs neither a thread nor a lasting file descriptor (1,000 idle
  connections once took the daemon to its descriptor limit: the camera could not open its files, MQTT
  could not reconnect, and the accept loop spun at 100 % CPU);
- a connection that sends nothing, or stops reading, for :data:`IDLE_SECONDS` is closed.

Neither side ever blocks the frame loop: the loop only hands frames to the live view under a short lock.
A client that disconnects mid-response is logged at debug level, never as a traceback on stderr.
"""

from __future__ import annotations

import logging
import socketserver
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edgeface.errors import EdgefaceError

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
"""Connections one server holds at once: a few browsers (each opens several) and a Prometheus scraper."""
IDLE_SECONDS = 5.0
"""A connection that sends no request, or does not read what it is sent, for this long is closed."""


class BoundedServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding at most ``max_connections`` connections, each served on a daemon thread."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: at socketserver's 5, a burst of connects waits on SYN retries

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        what: str,
        key: str,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """``what`` names the server in messages, ``key`` the config section that sets its address."""
        self.what = what
        self._slots = threading.BoundedSemaphore(max_connections)
        try:
            super().__init__(address, handler)
        except OSError as exc:
            host, port = address
            raise EdgefaceError(f"{key}: cannot serve the {what} on {host}:{port}: {exc.strerror or exc}") from exc

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.debug("%s: %d connections already, closing one from %s", self.what, MAX_CONNECTIONS, client_address)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("%s: %s left (%s)", self.what, client_address, exc)
        else:
            log.error("%s: a request from %s failed", self.what, client_address, exc_info=exc)

    def start(self, name: str) -> threading.Thread:
        """Serve on a daemon thread; :func:`stop_server` ends it."""
        thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        thread.start()
        return thread


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler with an idle timeout, request lines logged at debug level, and one way to reply."""

    timeout = IDLE_SECONDS
    server_version = "edgeface"
    protocol_version = "HTTP/1.1"  # keep-alive: a page polling every second reuses one connection

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s: %s %s", getattr(self.server, "what", "http"), self.address_string(), format % args)

    def send_body(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def stop_server(server: socketserver.BaseServer | None, thread: threading.Thread | None) -> None:
    """Stop serving, release the port and wait briefly for the serving thread; safe with None."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=2)
