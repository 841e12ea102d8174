"""A throwaway mosquitto on a free loopback port, for the measurement scripts beside this file."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mosquitto(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start mosquitto with its config in ``work``; the caller terminates it. Returns it and its port."""
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {pwd.getpwuid(os.getuid()).pw_name}\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    return subprocess.Popen([mosquitto, "-c", str(conf)], stderr=subprocess.DEVNULL), port
