"""The daemon's local control socket: how ``edgeface faces recent`` and ``enroll --recent`` reach its memory.

The recent faces (:mod:`edgeface.daemon.recent`) live only in the daemon's memory, so the command
line asks the daemon for them. The channel is a Unix socket, ``control.sock`` in the state
directory: the directory is 0700 and the socket 0600, and the daemon also checks the peer's
credentials (``SO_PEERCRED``): only its own user and root are answered, so nothing off the
machine, and no other local user, can read a face. There is no TCP port.

One request per connection, one JSON object per line each way::

    {"op": "recent"}                 → {"ok": true, "model": [name, sha256], "faces": [summary, ...]}
    {"op": "take", "ids": [3, 4]}    → the same, each face with "vector" and "jpeg" (base64 of the crop)
    {"op": "enrolled", "ids": [3]}   → {"ok": true}: forget them and re-read the people store
    anything wrong                   → {"ok": false, "error": "one line"}

The daemon writes nothing to the store here: the command line enrols, with every check of
:mod:`edgeface.ops.enroll`, and then says ``enrolled``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from edgeface.config import Config
from edgeface.daemon.recent import RecentFaces
from edgeface.errors import EdgefaceError
from edgeface.vision.images import encode_jpeg

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_REQUEST = 64 * 1024
TIMEOUT = 10.0


def control_path(cfg: Config) -> Path:
    return cfg.state_dir / SOCKET_NAME


class ControlServer:
    """Answers the requests of the module docstring on a thread of its own. Use as a context manager."""

    def __init__(
        self, path: Path, recent: RecentFaces, model: tuple[str, str], on_enrolled: Callable[[], None]
    ) -> None:
        self.path, self.recent, self.model = path, recent, model
        self._on_enrolled = on_enrolled
        if path.is_socket():
            if _answers(path):
                raise EdgefaceError(f"{path}: another daemon answers on this control socket (two with one state_dir?)")
            path.unlink()  # left by a daemon that was killed: no one answers on it
        elif path.exists():
            raise EdgefaceError(f"{path}: exists and is not a socket; remove it")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is created 0600, never wider even for a moment
        try:
            self._sock.bind(str(path))
        except OSError as exc:  # a path over the 107 bytes a Unix socket's name may have, a read-only dir
            self._sock.close()
            raise EdgefaceError(f"{path}: cannot make the control socket: {exc.strerror or exc}") from None
        finally:
            os.umask(old)
        self._sock.listen(4)
        self._thread = threading.Thread(target=self._serve, name="edgeface-control", daemon=True)
        self._thread.start()
        log.info("control socket %s: recent faces for edgeface faces recent (this user and root only)", path)

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                try:
                    conn.settimeout(TIMEOUT)
                    reply = self._answer(conn)
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError as exc:
                    log.debug("control socket: %s", exc)

    def _answer(self, conn: socket.socket) -> dict[str, object]:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
        if uid not in (0, os.getuid()):
            log.warning("control socket: refused a request from uid %d", uid)
            return {"ok": False, "error": f"uid {uid} may not ask this daemon (run as its user or root)"}
        try:
            request = json.loads(_read_line(conn))
            op, ids = request.get("op"), request.get("ids", [])
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                raise ValueError("ids must be a list of numbers")
        except (ValueError, AttributeError) as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        if op == "recent":
            return {"ok": True, "model": list(self.model), "faces": [f.summary() for f in self.recent.faces()]}
        if op == "take":
            try:
                faces = self.recent.take(ids)
            except KeyError as exc:
                held = ", ".join(str(f.id) for f in self.recent.faces()) or "none"
                return {"ok": False, "error": f"no recent face {exc.args[0]} (held now: {held})"}
            return {
                "ok": True,
                "model": list(self.model),
                "faces": [
                    {
                        **f.summary(),
                        "vector": [float(v) for v in f.vector],
                        "jpeg": base64.b64encode(encode_jpeg(f.crop)).decode(),
                    }
                    for f in faces
                ],
            }
        if op == "enrolled":
            self.recent.forget(ids)
            self._on_enrolled()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}


def serve_control(
    path: Path, recent: RecentFaces, model: tuple[str, str], on_enrolled: Callable[[], None]
) -> ControlServer | None:
    """The daemon's control socket; None, with a warning, where it cannot be made (a state_dir path over the
    107 bytes a socket's name may have): the door works without it, only enrolling from recent faces is off."""
    try:
        return ControlServer(path, recent, model, on_enrolled)
    except EdgefaceError as exc:
        log.warning("%s; edgeface faces recent will not reach this daemon", exc)
        return None


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    return data


def ask(path: Path, request: dict[str, object]) -> dict[str, object]:
    """One request to the daemon at ``path``; EdgefaceError with one line when it cannot be answered."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise EdgefaceError(f"{path}: no control socket: is the daemon running with this config?") from None
    if not stat.S_ISSOCK(mode):
        raise EdgefaceError(f"{path}: not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionRefusedError, FileNotFoundError):
            raise EdgefaceError(f"{path}: the daemon is not running (nobody answers on its control socket)") from None
        except PermissionError:
            raise EdgefaceError(f"{path}: permission denied: run as the daemon's user or root") from None
        except OSError as exc:
            raise EdgefaceError(f"{path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise EdgefaceError(f"{path}: the daemon's answer is not JSON") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        raise EdgefaceError(str(reply.get("error", "the daemon refused")) if isinstance(reply, dict) else "bad answer")
    return reply
