"""Private files and directories for biometric data.

Everything edgeface writes (the people store, the outbox, snapshots) lives in
directories only its owner can enter (0700) and files only its owner can read
(0600). Existing paths that are wider, or owned by someone else, are refused
rather than silently changed: a wrong mode usually means a wrong deployment.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edgeface.errors import PermissionsError

DIR_MODE = 0o700
FILE_MODE = 0o600


def _check(path: Path, st: os.stat_result, what: str) -> None:
    if st.st_uid != os.geteuid():
        raise PermissionsError(f"{path}: {what} is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})")
    if st.st_mode & 0o077:
        raise PermissionsError(
            f"{path}: {what} has mode {stat.S_IMODE(st.st_mode):04o}, readable by others; "
            f"make it {DIR_MODE if what == 'directory' else FILE_MODE:04o} (chmod) and try again"
        )


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents of it) as 0700, or check an existing one is private."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        st = path.stat()
    except OSError as exc:
        raise PermissionsError(f"{path}: cannot create the state directory ({exc.strerror})") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionsError(f"{path}: exists and is not a directory")
    _check(path, st, "directory")
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if missing, or check an existing one is private."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, FILE_MODE)
        os.close(fd)
        st = path.stat()
    except OSError as exc:
        raise PermissionsError(f"{path}: cannot open for writing ({exc.strerror})") from exc
    _check(path, st, "file")
    return path
