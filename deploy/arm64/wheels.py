"""Every distribution in a venv came as a wheel for this machine, none was built here: run inside the arm64 root.

python wheels.py VENV prints "N packages, all aarch64 or pure-Python wheels (M with native code)" and exits 0, or
names each offender and exits 1. A distribution fails when its WHEEL tags are not manylinux/musllinux aarch64
or pure Python (a wheel pip built from an sdist is tagged plain linux_aarch64), when one of its ELF files is not
aarch64, or when pip's cache holds wheels it built (pip keeps every wheel it built from an sdist there).
The project itself (an editable install of the clone) is the one exception.
"""

from __future__ import annotations

import sys
from pathlib import Path

EM_AARCH64 = 183
PROJECT = "edgeface"


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file, or None when the file is not ELF."""
    with path.open("rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def wheel_tags(dist_info: Path) -> list[str]:
    wheel = dist_info / "WHEEL"
    return [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]


def problems_of(dist_info: Path, site: Path) -> tuple[list[str], bool]:
    """What is wrong with one installed distribution, and whether it has native code."""
    name = dist_info.name.split("-")[0]
    if name.lower() == PROJECT:
        return [], False
    wheel = dist_info / "WHEEL"
    if not wheel.is_file():
        return [f"{name}: no WHEEL file (not installed from a wheel)"], False
    tags = wheel_tags(dist_info)
    pure = all(tag.endswith("-none-any") for tag in tags)
    problems = []
    if not pure and not all(("manylinux" in t or "musllinux" in t) and t.endswith("aarch64") for t in tags):
        problems.append(f"{name}: wheel tags {', '.join(tags)} (not a PyPI aarch64 wheel)")
    native = False
    record = dist_info / "RECORD"
    for line in record.read_text().splitlines() if record.is_file() else []:
        path = site / line.split(",", 1)[0]
        if path.is_file() and (machine := elf_machine(path)) is not None:
            native = True
            if machine != EM_AARCH64:
                problems.append(f"{name}: {path.name} is ELF machine {machine}, not aarch64")
    return problems, native


def main(venv: Path) -> int:
    (site,) = venv.glob("lib/python3*/site-packages")
    problems: list[str] = []
    dists = sorted(site.glob("*.dist-info"))
    native = 0
    for dist_info in dists:
        found, has_native = problems_of(dist_info, site)
        problems += found
        native += has_native
    built = sorted(Path.home().glob(".cache/pip/wheels/**/*.whl"))
    problems += [f"pip built {whl.name} from source" for whl in built if not whl.name.startswith(PROJECT + "-")]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"{len(dists)} packages, all aarch64 or pure-Python wheels ({native} with native code)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
