"""A stranger at a running door is enrolled from what the door saw, and is let in from then on.

The daemon as a child process (``edgeface run``) watching a still stranger; the command line asks it
for its recent faces through the control socket and enrols one, with every check.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.support.cli import run_edgeface
from tests.support.configs import write_config
from tests.support.data import STRANGER
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until


def test_a_stranger_the_door_saw_is_enrolled_from_its_memory_and_then_let_in(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "edgeface.yaml", camera={"path": str(still_frames(tmp_path / "camera", STRANGER)), "fps": 5}
    )
    faces: list[dict[str, object]] = []

    def recent() -> bool:
        done = run_edgeface("--config", str(config), "faces", "recent", "--json")
        faces[:] = json.loads(done.stdout)["faces"] if done.returncode == 0 else []
        return bool(faces)

    with DaemonProcess(config) as daemon:
        daemon.wait_for("decision type=unknown", 60)
        wait_until(recent, 30, "the door to offer the stranger's face")
        socket = daemon.state_dir / "control.sock"
        assert stat.S_ISSOCK(socket.stat().st_mode) and stat.S_IMODE(socket.stat().st_mode) == 0o600
        (face,) = faces
        done = run_edgeface("--config", str(config), "enroll", "visitor", "--recent", str(face["id"]))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("enrolled 1 recent face(s) as visitor")
        daemon.wait_for("decision type=granted person=visitor", 60)
        assert daemon.terminate() == 0
    assert not socket.exists()
