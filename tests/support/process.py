"""The real daemon as a child process, the systemd notify socket it talks to, and what every test server shares.

``DaemonProcess`` runs ``python -m edgeface -v --config FILE run`` and reads its log lines on a
thread, so a test can wait for a line, read the event ids the daemon logged (``id=...``) and kill
it at any moment. Its config comes from :func:`tests.support.configs.write_config`.

The servers the tests start (mosquitto, Home Assistant, Node-RED) come up, go down and show their logs
alike: :func:`wait_answering`, :func:`stop_gently` and :func:`log_tail`.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.data import ROOT
from tests.support.timing import scaled

EVENT_ID = re.compile(r" id=([0-9a-f-]{36})")


def wait_answering(
    proc: subprocess.Popen[Any],
    answers: Callable[[], bool],
    timeout: float,
    name: str,
    logs: Callable[[], str],
    *,
    interval: float = 0.02,
) -> None:
    """Return once the server in ``proc`` ``answers()`` (asked every ``interval`` s); AssertionError quoting
    ``logs()`` if it exits first or has not answered within ``timeout`` s (scaled)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{logs()}")
        if answers():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{name} did not answer within {timeout} s:\n{logs()}")
        time.sleep(interval)


def stop_gently(proc: subprocess.Popen[Any] | None, timeout: float) -> None:
    """A clean shutdown (SIGTERM), as systemd would do it; SIGKILL if it has not ended within ``timeout`` s (scaled)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(scaled(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log_tail(paths: Iterable[Path], lines: int) -> str:
    """The last ``lines`` lines of the log files ``paths`` (those that exist), one after the other."""
    text = "".join(path.read_text(errors="replace") for path in paths if path.exists())
    return "\n".join(text.splitlines()[-lines:])


class DaemonProcess:
    """``edgeface -v --config CONFIG run`` in a child process, its stderr collected line by line."""

    def __init__(
        self,
        config: Path,
        *,
        env: dict[str, str] | None = None,
        verbose: bool = True,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``wrapper`` goes before the command (a sandbox that execs it, e.g. ``tests.support.sandbox``)."""
        self.config = config
        self.settings = yaml.safe_load(config.read_text())
        flags = ["-v"] if verbose else []
        args = [*wrapper, sys.executable, "-m", "edgeface", *flags, "--config", str(config), "run"]
        inherited = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        child_env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env, cwd=ROOT
        )
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def state_dir(self) -> Path:
        return Path(self.settings["state_dir"])

    @property
    def prefix(self) -> str:
        return f"edgeface/{self.settings['device_id']}"

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, count: int = 1) -> str:
        """The ``count``-th log line matching the regex ``pattern``; AssertionError (with the log) on timeout."""
        regex = re.compile(pattern)
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [line for line in self._lines if regex.search(line)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    tail = "\n".join(self._lines[-30:])
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout} s:\n{tail}")
                self._cond.wait(min(left, 0.2))

    def event_ids(self) -> list[str]:
        """Ids of the events the daemon recorded, in order (from the one ``decision`` line of each)."""
        return [m.group(1) for line in self.lines() if "decision type=" in line and (m := EVENT_ID.search(line))]

    def wait(self, timeout: float = 20.0) -> int:
        code = self.proc.wait(scaled(timeout))
        self._reader.join(scaled(5))
        return code

    def terminate(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class NotifySocket:
    """A stand-in for systemd's notify socket: a datagram socket that records every message with its time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def times(self, field: str) -> list[float]:
        return [t for t, m in list(self.messages) if field in m.split("\n")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
