"""compare.py X86.json ARM64.json FACTS: the two `bench accuracy --json` results agree on TAR, FAR, threshold.

Appends one line for the summary to FACTS; exits 1 naming each figure that differs by more than 1e-3.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEYS = ("tar", "far", "threshold")
TOLERANCE = 1e-3


def main(x86_path: Path, arm_path: Path, facts: Path) -> int:
    x86, arm = json.loads(x86_path.read_text()), json.loads(arm_path.read_text())
    differ = [f"{k} {arm[k]} on arm64, {x86[k]} on x86" for k in KEYS if abs(arm[k] - x86[k]) > TOLERANCE]
    for line in differ:
        print(f"accuracy differs: {line}", file=sys.stderr)
    if differ:
        return 1
    with facts.open("a") as f:
        f.write("accuracy as x86: " + ", ".join(f"{k} {arm[k]}" for k in KEYS) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*map(Path, sys.argv[1:4])))
