"""The small HTTP servers the daemon runs on background threads (metrics, live view), bounded.

Standard library ``http.server`` with a thread per connection, and two bounds it lacks by itself:

- at most :data:`MAX_CONNECTIONS` connections are served at once; one more is closed as soon as it is
  accepted, so a flood of connections costs neither a thread nor a lasting file descriptor (1,000 idle
  connections once took the daemon to its descriptor limit: the camera could not open its files, MQTT
  could not reconnect, and the accept loop spun at 100 % CPU);
- a connection that sends nothing, or stops reading, for :data:`IDLE_SECONDS` is closed;
- when every slot is taken, a new connection takes the slot of the one that has waited longest
  without a complete request (a slow client dribbling its headers, an idle keep-alive): whoever holds
  the slots without asking for anything is dropped first, so 200 slow clients cannot keep a Prometheus
  scrape or a viewer out. Connections being answered are never dropped for a newcomer;
- with ``hosts`` set, a request is answered only if its ``Host`` header is an IP address or one of
  those names (421 otherwise): a page of another site whose name an attacker points at the door
  (DNS rebinding) gets nothing from it.

Neither side ever blocks the frame loop: the loop only hands frames to the live view under a short lock.
A client that disconnects mid-response is logged at debug level, never as a traceback on stderr.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edgeface.errors import EdgefaceError

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
"""Connections one server holds at once: a few browsers (each opens several) and a Prometheus scraper."""
IDLE_SECONDS = 5.0
"""A connection that sends no request, or does not read what it is sent, for this long is closed."""
EVICT_WAIT_SECONDS = 1.0
"""How long a newcomer waits for the slot of the connection dropped for it."""


def local_names() -> set[str]:
    """The names this machine answers to without any configuration: localhost and its own host names."""
    host = socket.gethostname().lower()
    return {"localhost", host, f"{host}.local", socket.getfqdn().lower()}


def host_allowed(header: str | None, names: set[str]) -> bool:
    """Whether a request's ``Host`` header names this server: an IP address (a page can only have reached it
    from an origin of that address), or one of ``names``. No header at all is HTTP/1.0 from a tool: allowed."""
    if header is None:
        return True
    host = header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host in names
    return True


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
        hosts: Iterable[str] | None = None,
    ) -> None:
        """``what`` names the server in messages, ``key`` the config section that sets its address; ``hosts``
        the names (besides IP addresses and :func:`local_names`) its requests may give as ``Host``, None: any."""
        self.what = what
        self.hosts = None if hosts is None else local_names() | {h.lower().rstrip(".") for h in hosts}
        self._slots = threading.BoundedSemaphore(max_connections)
        self._waiting: dict[Any, float | None] = {}  # each connection → since when it waits for a request
        self._waiting_lock = threading.Lock()
        try:
            super().__init__(address, handler)
        except OSError as exc:
            host, port = address
            raise EdgefaceError(f"{key}: cannot serve the {what} on {host}:{port}: {exc.strerror or exc}") from exc

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False) and not (
            self._drop_longest_waiting() and self._slots.acquire(timeout=EVICT_WAIT_SECONDS)
        ):
            log.debug("%s: every connection is being answered, closing one from %s", self.what, client_address)
            self.shutdown_request(request)
            return
        self.waiting(request, True)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def waiting(self, request: Any, waiting: bool) -> None:
        """Note that connection ``request`` now waits for a request (True) or is being answered (False)."""
        with self._waiting_lock:
            if request in self._waiting or waiting:
                self._waiting[request] = time.monotonic() if waiting else None

    def _forget(self, request: Any) -> None:
        with self._waiting_lock:
            del self._waiting[request]
        self._slots.release()

    def _drop_longest_waiting(self) -> bool:
        """Shut the connection that has waited longest without a request; its thread then frees its slot."""
        with self._waiting_lock:
            held = [(since, id(conn), conn) for conn, since in self._waiting.items() if since is not None]
            if not held:
                return False
            _, _, victim = min(held)
            self._waiting[victim] = None  # never dropped twice
        log.debug("%s: every slot is held, dropping the connection that waited longest", self.what)
        with contextlib.suppress(OSError):  # it may have left by itself
            victim.shutdown(socket.SHUT_RDWR)
        return True

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

    server: BoundedServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s: %s %s", getattr(self.server, "what", "http"), self.address_string(), format % args)

    def handle_one_request(self) -> None:
        self.server.waiting(self.connection, True)
        super().handle_one_request()

    def parse_request(self) -> bool:
        """Read the request's headers, then refuse it if it names another host (see the module docstring)."""
        if not super().parse_request():
            return False
        self.server.waiting(self.connection, False)
        if self.server.hosts is not None and not host_allowed(self.headers.get("Host"), self.server.hosts):
            log.debug("%s: refused a request for host %r", self.server.what, self.headers.get("Host"))
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "Unknown host")
            return False
        return True

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
