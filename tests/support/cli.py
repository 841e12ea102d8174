"""The edgeface command in tests: in this process (so capsys sees its output), as a child process, or at a terminal."""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from edgeface.cli import main
from tests.support.data import ROOT
from tests.support.timing import scaled


def edgeface(config: Path, *args: str) -> int:
    """``edgeface --config CONFIG ARGS...`` in this process; its exit status."""
    return main(["--config", str(config), *args])


def run_edgeface(
    *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m edgeface ARGS...`` as a child process, its output captured (pipes: not a terminal); ``timeout``
    is scaled."""
    command = [sys.executable, "-m", "edgeface", *args]
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=scaled(timeout), cwd=ROOT, env=environ
    )


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    output: str
    """Everything the command wrote to the terminal (stdout and stderr), escape codes and carriage returns kept."""


def run_in_terminal(
    *args: str, timeout: float = 60, env: Mapping[str, str] | None = None, typed: str = ""
) -> TerminalRun:
    """``python -m edgeface ARGS...`` with a real pseudo-terminal as stdin, stdout and stderr, as a user runs it.

    ``typed`` is typed at the terminal at once (the answer to a prompt); the terminal echoes it into the output.
    ``NO_COLOR`` is taken from ``env`` only, never from the environment the tests run in.
    """
    controller, terminal = pty.openpty()
    # A terminal of 40 rows by 120 columns: a pty starts at 0 by 0, where progress bars draw nothing.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    command = [sys.executable, "-m", "edgeface", *args]
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | dict(env or {})
    try:
        child = subprocess.Popen(
            command, cwd=ROOT, env=environ, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True
        )
    finally:
        os.close(terminal)
    if typed:
        os.write(controller, typed.encode())  # held by the terminal until the command reads its input
    chunks = []
    deadline = time.monotonic() + scaled(timeout)
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError as exc:  # EIO: every writer of the terminal has closed it
                if exc.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            chunks.append(chunk)
        returncode = child.wait(max(0.1, deadline - time.monotonic()))
    finally:
        os.close(controller)
        if child.poll() is None:
            child.kill()
            child.wait()
    return TerminalRun(returncode, b"".join(chunks).decode("utf-8", "replace"))
