"""Private files and directories for biometric data.

Everything edgeface writes (the people store, the outbox, snapshots) lives in
directories only its owner can enter (0700) and files only its owner can read
(0600). Existing paths that are wider, or owned by someone else, are refused
rather than silently changed: a wrong mode usually means a wrong deployment.

Model files are the opposite case: public weights, so being readable by anyone
is fine (0644), but whoever can *write* one can make the door accept any face
(a SHA-256 pin helps only while one is set, and only at load time). So
:func:`trusted_file` refuses a model, or the folder it is in, that others may
write (world-writable, or group-writable by a group other than root's or this
process's), and a model owned by anyone but root or this user.
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


def _make_dirs(path: Path) -> None:
    """Create ``path`` and each missing parent as 0700: ``mkdir(parents=True)`` gives parents the umask's mode."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: checked below like any existing folder
        folder.chmod(DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened; make it exact


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents of it) as 0700, or check an existing one is private."""
    try:
        _make_dirs(path)
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


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` as 0600 whatever the umask, narrowing an existing file's mode too.

    For files the user names (a snapshot, an annotated photo): they show faces, so they are as private
    as the store. A symlink at ``path`` is refused rather than followed.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise PermissionsError(f"{path}: cannot write ({exc.strerror})") from exc
    return path


def _writable_by_others(st: os.stat_result) -> str | None:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode) and mode & stat.S_ISVTX:
        return None  # sticky: others may add files but not replace ours (ownership is checked too)
    if mode & 0o002:
        return f"mode {mode:04o} lets every user write it"
    if mode & 0o020 and st.st_gid not in (0, os.getegid()):
        return f"mode {mode:04o} lets group {st.st_gid} write it"
    return None


def trusted_file(path: Path, what: str) -> Path:
    """Check a file the daemon trusts (a model): owned by root or this user, and nobody else may change it.

    ``what`` names the config key for the message, e.g. ``embedder.model``. Never changes anything.
    """
    try:
        st = path.stat()  # follows a symlink: the target is what gets loaded
        parent = path.resolve().parent
        parent_st = parent.stat()
    except FileNotFoundError:
        raise PermissionsError(f"{what}: {path}: file not found") from None
    except OSError as exc:
        raise PermissionsError(f"{what}: {path}: cannot check the file ({exc.strerror})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise PermissionsError(f"{what}: {path}: not a regular file")
    if st.st_uid not in (0, os.geteuid()):
        raise PermissionsError(
            f"{what}: {path}: owned by uid {st.st_uid}, not by root or this user (uid {os.geteuid()}); "
            "whoever owns it can replace the model"
        )
    for target, target_st, kind in ((path, st, "file"), (parent, parent_st, "folder")):
        problem = _writable_by_others(target_st)
        if problem:
            raise PermissionsError(
                f"{what}: {target}: the {kind} is not protected ({problem}); anyone who can change the model "
                f"can make the door accept any face: chmod go-w {target}"
            )
    return path
