"""A stranger at a running door is enrolled from what the door saw, and is let in from then on.

The daemon as a child process (``edgeface run``) watching a still stranger; the command line asks it
for its recent faces through the control socket and enrols one, with every check.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chromium import Chromium
from tests.support.cli import run_edgeface
from tests.support.configs import write_config
from tests.support.data import STRANGER
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    with Chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


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


TOKEN = "page-token-0123456789"


def test_on_the_live_page_a_signed_in_viewer_enrols_the_stranger_and_the_door_lets_them_in(
    tmp_path: Path, browser: Chromium
) -> None:
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(still_frames(tmp_path / "camera", STRANGER)), "fps": 5},
        web={"enabled": True, "address": "127.0.0.1", "port": 0, "fps": 5, "token": TOKEN},
    )
    with DaemonProcess(config) as daemon:
        match = re.search(r":(\d+)/", daemon.wait_for(r"live view on http://127\.0\.0\.1:\d+/"))
        assert match is not None
        with browser.tab(f"http://127.0.0.1:{match.group(1)}/", 1280, 900) as tab:
            shown = "!!document.body && Number(document.body.dataset.recent || 0) >= 1"
            wait_until(lambda: tab.evaluate(shown) is True, 60, "the page to list the stranger")
            facts = "[...document.querySelectorAll('#recent button, #recent img')].map(e => e.textContent || e.alt)"
            assert tab.evaluate(facts) == ["Sign in to enrol…"], "no face and no Enrol… before signing in"
            tab.evaluate(f"window.prompt = () => {json.dumps(TOKEN)}; document.querySelector('#recent button').click()")
            signed_in = (
                "!!(document.querySelector('#recent-faces img') && document.querySelector('#recent-faces button'))"
            )
            wait_until(lambda: tab.evaluate(signed_in) is True, 10, "the faces and Enrol… after signing in")
            tab.evaluate("window.prompt = () => 'visitor'; document.querySelector('#recent-faces button').click()")
            said = "document.getElementById('recent-said').textContent"
            wait_until(lambda: tab.evaluate(said) == "enrolled as visitor", 20, "the page to say it enrolled")
        daemon.wait_for("decision type=granted person=visitor", 60)
        assert daemon.terminate() == 0
