"""Print every shared object this Python could load that asks for an executable stack; exit 3 if any.

Run by deploy/install.sh with the venv's Python. Under the unit's MemoryDenyWriteExecute=true, glibc cannot
make the stack executable, so such a library fails to load (``cannot enable executable stack``) and the
daemon would never start: onnxruntime 1.21-1.22 wheels lost their ``-z noexecstack`` link flag
(microsoft/onnxruntime#25200). The installer then turns MDWE off for this machine and says why.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from pathlib import Path

PT_GNU_STACK = 0x6474E551
PF_X = 1
# Where an object has no PT_GNU_STACK header, glibc gives x86 an executable stack (other CPUs: not).
EXEC_BY_DEFAULT = {3, 62}  # EM_386, EM_X86_64


def gnu_stack(path: Path) -> tuple[int, int] | None:
    """(file offset of its p_flags, the flags) of the PT_GNU_STACK header of an ELF file; None without one.

    Raises ValueError for a file that is not ELF, or is too short to be one.
    """
    with path.open("rb") as f:
        ident = f.read(64)
        if len(ident) < 52 or ident[:4] != b"\x7fELF":
            raise ValueError(f"{path}: not an ELF file")
        wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
        layout = ((32, "Q"), (54, "H"), (56, "H")) if wide else ((28, "I"), (42, "H"), (44, "H"))
        phoff, phentsize, phnum = (struct.unpack_from(order + code, ident, at)[0] for at, code in layout)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    flags_at = 4 if wide else 24
    for start in range(0, len(table) - phentsize + 1, phentsize):
        if struct.unpack_from(f"{order}I", table, start)[0] == PT_GNU_STACK:
            return phoff + start + flags_at, struct.unpack_from(f"{order}I", table, start + flags_at)[0]
    return None


def machine(path: Path) -> int:
    with path.open("rb") as f:
        ident = f.read(20)
    return int(struct.unpack_from("<H" if ident[5] == 1 else ">H", ident, 18)[0])


def wants_exec_stack(path: Path) -> bool:
    try:
        stack = gnu_stack(path)
    except ValueError:
        return False
    return bool(stack[1] & PF_X) if stack else machine(path) in EXEC_BY_DEFAULT


def shared_objects() -> Iterator[Path]:
    seen: set[Path] = set()
    for entry in sys.path:
        folder = Path(entry)
        if folder.is_dir():
            for path in folder.rglob("*.so*"):
                real = path.resolve()
                if real not in seen and real.is_file():
                    seen.add(real)
                    yield path


if __name__ == "__main__":
    found = [path for path in shared_objects() if wants_exec_stack(path)]
    for path in found:
        print(path)
    sys.exit(3 if found else 0)
