"""Stopping the small HTTP servers the daemon runs on background threads (metrics, live view)."""

from __future__ import annotations

import socketserver
from threading import Thread


def stop_server(server: socketserver.BaseServer | None, thread: Thread | None) -> None:
    """Stop serving, release the port and wait briefly for the serving thread; safe with None."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=2)
