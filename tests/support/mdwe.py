"""Run a command as ``MemoryDenyWriteExecute=true`` would: ``python -m tests.support.mdwe CMD ARGS...``.

It sets the kernel's PR_SET_MDWE (Linux 6.3+) and then execs CMD, which keeps it across exec and passes
it to every child: no mapping of the process may then be writable and executable, nor become
executable later. systemd ≥ 257 uses this same switch; older ones refuse the same mmap/mprotect calls
with a seccomp filter, which also refuses making a mapping executable again.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_MDWE = 65
PR_GET_MDWE = 66
PR_MDWE_REFUSE_EXEC_GAIN = 1


def deny_write_execute() -> None:
    """Turn MDWE on for this process and what it execs; OSError where the kernel cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_MDWE): {os.strerror(errno)}")
    if libc.prctl(PR_GET_MDWE, 0, 0, 0, 0) != PR_MDWE_REFUSE_EXEC_GAIN:
        raise OSError("PR_SET_MDWE did not take")


if __name__ == "__main__":
    deny_write_execute()
    os.execvp(sys.argv[1], sys.argv[1:])
