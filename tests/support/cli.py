"""The edgeface command in tests: in this process (so capsys sees its output) or as a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgeface.cli import main
from tests.support.data import ROOT


def edgeface(config: Path, *args: str) -> int:
    """``edgeface --config CONFIG ARGS...`` in this process; its exit status."""
    return main(["--config", str(config), *args])


def run_edgeface(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m edgeface ARGS...`` as a child process, its output captured."""
    command = [sys.executable, "-m", "edgeface", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
