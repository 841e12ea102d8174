"""The state directory from outside: a disk that fills up or turns read-only, SQLite files read by another process."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def small_filesystem(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (0700): a disk that really fills up, or can be made read-only.

    Needs root (tests run as root in CI): root ignores file modes, so chmod cannot play a read-only or
    full disk for it, and a size-limited filesystem is the honest way.
    """
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=False, capture_output=True, text=True
    )
    if mounted.returncode != 0:
        raise AssertionError(f"cannot mount a tmpfs for the disk tests (they need root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, option: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{option}", str(path)], check=True, capture_output=True)


def fill(path: Path) -> int:
    """Write a file until the filesystem is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                written += fh.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return written


def integrity(path: Path) -> str:
    """SQLite's integrity check of a file no process has open."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return "; ".join(str(r[0]) for r in db.execute("PRAGMA integrity_check"))


def outbox_count(path: Path) -> int:
    """Events waiting in an outbox (readable while the daemon runs: WAL lets readers in)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
