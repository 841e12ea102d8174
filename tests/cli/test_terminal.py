"""The command at a real terminal and in real pipes: colour only for a person, progress bars that stay on their
line, and a reader that leaves early ends the command quietly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.cli import run_edgeface, run_in_terminal
from tests.support.configs import write_config
from tests.support.data import DEMO_FACES, FACES, ROOT

pytestmark = pytest.mark.slow

ESCAPE = "\x1b["
GREEN_TICK = "\x1b[32m✓\x1b[0m"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "edgeface.yaml")


def test_doctor_colours_its_marks_at_a_terminal(config: Path) -> None:
    run = run_in_terminal("--config", str(config), "doctor")
    assert run.returncode == 1, run.output  # nobody is enrolled: the store check fails
    lines = run.output.splitlines()
    assert any(line.startswith(GREEN_TICK + " models:") for line in lines), run.output
    assert any(line.startswith("\x1b[31m✗\x1b[0m store:") for line in lines), run.output


def test_no_color_keeps_a_terminal_plain(config: Path) -> None:
    run = run_in_terminal("--config", str(config), "doctor", env={"NO_COLOR": "1"})
    assert "✓ models:" in run.output and ESCAPE not in run.output


def test_an_empty_no_color_does_not_turn_colour_off(config: Path) -> None:
    # no-color.org: "when present and not an empty string".
    run = run_in_terminal("--config", str(config), "models", "verify", env={"NO_COLOR": ""})
    assert run.returncode == 0 and GREEN_TICK in run.output, run.output


def test_a_pipe_gets_no_escape_codes(config: Path) -> None:
    for args in (["doctor"], ["models", "verify"], ["models", "list"]):
        done = run_edgeface("--config", str(config), *args)
        assert "✓" in done.stdout and ESCAPE not in done.stdout + done.stderr, args


def test_a_reader_that_leaves_early_ends_the_command_quietly(config: Path, tmp_path: Path) -> None:
    """``edgeface people list | head -0``: the pipe is closed before the command writes to it."""
    assert run_edgeface("--config", str(config), "enroll", "--from-dir", str(DEMO_FACES)).returncode == 0
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone, as `head` is once it has what it wants
    try:
        command = [sys.executable, "-m", "edgeface", "--config", str(config), "people", "list"]
        done = subprocess.run(
            command, check=False, cwd=ROOT, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(writer)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    # The same through a shell pipeline, where the reader leaves after the first line.
    shell = f"{sys.executable} -m edgeface --config {config} people list --json | head -c 1 > /dev/null"
    piped = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], check=False, cwd=ROOT, capture_output=True, text=True
    )
    assert piped.returncode in (0, 141) and "Traceback" not in piped.stderr, piped.stderr


def test_enrol_messages_at_a_terminal_start_their_own_line_and_name_the_photo_once(
    config: Path, tmp_path: Path
) -> None:
    faces = tmp_path / "faces"
    faces.mkdir()
    for i, photo in enumerate(sorted((FACES / "barack_obama").glob("*.jpg"))[:4]):
        shutil.copy(photo, faces / f"barack_{i}.jpg")
    blank = faces / "barack_9.jpg"
    assert cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    run = run_in_terminal("--config", str(config), "enroll", "--from-dir", str(faces))
    assert run.returncode == 0, run.output
    assert "enrolling" in run.output, "the progress bar was drawn (stderr is a terminal)"
    # What the terminal shows: each line as left after its last carriage return, codes that clear it removed.
    shown = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line.rstrip("\r").split("\r")[-1]) for line in run.output.split("\n")]
    (skipped,) = [line for line in shown if str(blank) in line]
    assert skipped.startswith("skipped "), f"printed onto the progress bar's line: {skipped!r}"
    assert skipped.count(str(blank)) == 1 and skipped.endswith(": no face (0 found)"), skipped
