"""Run a command inside a unit's system-call sandbox: ``python -m tests.support.sandbox UNIT CMD ARGS...``.

Tests cannot start a systemd service here, so this applies to an ordinary process the parts of the unit
that decide whether the daemon's libraries work at all, the way systemd 252 (Debian/Raspberry Pi OS
bookworm) applies them, with seccomp filters through libseccomp, the library systemd itself uses:

- ``SystemCallFilter=`` (allow-list, then ``~`` deny-lists, groups expanded by ``systemd-analyze
  syscall-filter``) with ``SystemCallErrorNumber=``, native architecture only;
- ``RestrictAddressFamilies=``: ``socket()`` of any other family fails with EAFNOSUPPORT;
- ``MemoryDenyWriteExecute=true``: no ``mmap`` writable and executable, no ``mprotect``/``pkey_mprotect``
  adding execute, no ``shmat`` with SHM_EXEC (systemd ≥ 257 uses the kernel's PR_SET_MDWE, which
  is set too and refuses less);
- ``NoNewPrivileges=true`` (seccomp needs it without CAP_SYS_ADMIN).

Filesystem, device and namespace settings need systemd; ``systemd-analyze security`` rates them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import mmap
import os
import socket
import subprocess
import sys
from pathlib import Path

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
SHM_EXEC = 0o100000
AF_MAX = 64
"""Above every address family Linux defines (46 in 6.x)."""

_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_CMP_EQ = 4
_CMP_MASKED_EQ = 7


def _errno_action(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = (("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64))


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """Each ``Key=value`` of the unit's [Service] section, every value of a repeated key in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


@functools.cache
def _syscall_groups() -> dict[str, list[str]]:
    listing = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True)
    groups: dict[str, list[str]] = {}
    current: list[str] = []
    for line in listing.stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def syscalls(names: str) -> set[str]:
    """The system calls ``names`` (``@group`` or call names, space-separated) stand for."""
    found: set[str] = set()
    for name in names.split():
        found |= syscalls(" ".join(_syscall_groups()[name])) if name.startswith("@") else {name}
    return found


def allowed_syscalls(filters: list[str]) -> set[str]:
    """The allow-list that ``SystemCallFilter=`` lines build: the first names what is allowed, ``~`` removes."""
    allowed: set[str] = set()
    for value in filters:
        if value.startswith("~"):
            allowed -= syscalls(value[1:])
        else:
            allowed |= syscalls(value)
    return allowed


class _Filter:
    """One seccomp filter; several stack, and the kernel applies the strictest answer."""

    def __init__(self, lib: ctypes.CDLL, default: int) -> None:
        self.lib = lib
        self.ctx = lib.seccomp_init(default)
        if not self.ctx:
            raise OSError("seccomp_init failed")

    def rule(self, action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
        number = self.lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # a call of another architecture or kernel: nothing to filter
            return
        array = (_ArgCmp * max(1, len(cmps)))(*(_ArgCmp(*c) for c in cmps))
        if (err := self.lib.seccomp_rule_add_array(self.ctx, action, number, len(cmps), array)) != 0:
            raise OSError(-err, f"seccomp rule for {name}: {os.strerror(-err)}")

    def load(self) -> None:
        if (err := self.lib.seccomp_load(self.ctx)) != 0:
            raise OSError(-err, f"seccomp_load: {os.strerror(-err)}")
        self.lib.seccomp_release(self.ctx)


def enter(unit: Path) -> None:
    """Apply ``unit``'s system-call settings to this process and everything it execs from now on."""
    settings = unit_settings(unit)
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_void_p,
    ]
    lib.seccomp_load.argtypes = lib.seccomp_release.argtypes = [ctypes.c_void_p]
    if settings.get("NoNewPrivileges") == ["true"]:
        ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    if families := settings.get("RestrictAddressFamilies"):
        allowed = {int(getattr(socket, name)) for value in families for name in value.split()}
        sockets = _Filter(lib, _ALLOW)
        for family in set(range(AF_MAX)) - allowed:
            sockets.rule(_errno_action(errno.EAFNOSUPPORT), "socket", (0, _CMP_EQ, family, 0))
        sockets.load()
    if settings.get("MemoryDenyWriteExecute") == ["true"]:
        wx, x = mmap.PROT_WRITE | mmap.PROT_EXEC, mmap.PROT_EXEC
        mdwe = _Filter(lib, _ALLOW)
        mdwe.rule(_errno_action(errno.EPERM), "mmap", (2, _CMP_MASKED_EQ, wx, wx))
        mdwe.rule(_errno_action(errno.EPERM), "mprotect", (2, _CMP_MASKED_EQ, x, x))
        mdwe.rule(_errno_action(errno.EPERM), "pkey_mprotect", (2, _CMP_MASKED_EQ, x, x))
        mdwe.rule(_errno_action(errno.EPERM), "shmat", (2, _CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
        mdwe.load()
        if ctypes.CDLL(None).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
            raise OSError("prctl(PR_SET_MDWE) refused: this kernel is older than 6.3")

    # Last: loading a filter is itself a call the allow-list may refuse.
    if filters := settings.get("SystemCallFilter"):
        # Without SystemCallErrorNumber= systemd kills the process (SIGSYS) on a call outside the list.
        number = settings.get("SystemCallErrorNumber")
        allow_list = _Filter(lib, _errno_action(getattr(errno, number[-1])) if number else _KILL_PROCESS)
        for name in sorted(allowed_syscalls(filters)):
            allow_list.rule(_ALLOW, name)
        allow_list.load()


if __name__ == "__main__":
    enter(Path(sys.argv[1]))
    os.execvp(sys.argv[2], sys.argv[2:])
