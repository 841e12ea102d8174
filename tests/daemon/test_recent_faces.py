"""Enrolling from what the door saw: unknown visits kept in memory, reached through the control socket.

Real photos through the real pipeline, a real Unix socket, and the ``enroll`` command with every check.
"""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeface.config import FacesConfig, StoreConfig
from edgeface.daemon.control import ControlServer, control_path, serve_control
from edgeface.daemon.recent import RecentFaces
from edgeface.daemon.recentdisk import recent_file
from edgeface.daemon.recentweb import RecentPage
from edgeface.daemon.web import LiveView
from edgeface.errors import EdgefaceError
from edgeface.liveness.stage import LivenessStage
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.audit import AuditLog
from edgeface.storage.people import Store
from edgeface.values import Frame
from edgeface.vision.align import CropSpec, align
from edgeface.vision.images import load_image
from edgeface.vision.pipeline import FramePipeline
from edgeface.vision.recognize import Recognizer
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, SHARED
from tests.support.models import make_config

KIDMAN = sorted((FACES / "nicole_kidman").glob("*.jpg"))
STRANGERS = [FACES / "unknown" / f"{n}.jpg" for n in (3, 9, 12)]


@pytest.fixture
def door(tmp_path: Path) -> Iterator[tuple[Path, FramePipeline, RecentFaces]]:
    """A door that knows nicole (one photo): its config, its pipeline and the recent faces it feeds (2 kept)."""
    config = write_config(tmp_path / "edgeface.yaml")
    cfg = make_config(tmp_path / "state")
    with Store(tmp_path / "state" / "people.db") as store, Recognizer.from_config(cfg) as recognizer:
        assert not any(r.refused for r in enroll_photos(recognizer, store, [("nicole", KIDMAN[0])]))
        recognizer.gallery = store.gallery_for(recognizer.embedder)
        spec = CropSpec.for_profile(recognizer.embedder.profile)
        yield config, FramePipeline(recognizer), RecentFaces(2, lambda image, face: align(image, face, spec))


def visit(pipeline: FramePipeline, recent: RecentFaces, photo: Path, start: float, frames: int = 3) -> None:
    """``photo`` held in front of the camera for ``frames`` frames, long after the previous visit."""
    image = load_image(photo)
    for i in range(frames):
        frame = Frame(image, start + i * 0.2, int(start * 10) + i)
        recent.observe(image, pipeline.process(frame))


def test_unknown_visits_are_kept_one_entry_each_the_oldest_dropped_and_known_faces_never(
    door: tuple[Path, FramePipeline, RecentFaces],
) -> None:
    _, pipeline, recent = door
    visit(pipeline, recent, KIDMAN[1], 100.0)
    assert recent.faces() == [], "nicole was recognised: her visit is somebody's"
    visit(pipeline, recent, STRANGERS[0], 200.0)
    (first,) = recent.faces()
    assert (first.id, first.candidate) == (1, "nicole") and first.similarity < pipeline.recognizer.threshold
    assert first.crop.shape[:2] == (112, 112) and first.vector.shape == (128,) and 0.0 < first.quality <= 1.0
    visit(pipeline, recent, STRANGERS[1], 300.0)
    visit(pipeline, recent, STRANGERS[2], 400.0)
    assert [f.id for f in recent.faces()] == [3, 2], "two kept, newest first: the first visit was dropped"
    recent.forget([3])
    assert [f.id for f in recent.faces()] == [2]


def test_with_liveness_on_a_printed_face_is_never_kept_to_enrol_from(
    door: tuple[Path, FramePipeline, RecentFaces], tmp_path: Path
) -> None:
    _, pipeline, _ = door
    printed = sorted((SHARED / "pad-dev" / "spoof" / "print").glob("nuaa_nuaa0002_*"))[0]
    spec = CropSpec.for_profile(pipeline.recognizer.embedder.profile)
    with LivenessStage.from_config(make_config(tmp_path / "state")) as liveness:
        recent = RecentFaces(2, lambda image, face: align(image, face, spec), live=liveness.passes)
        visit(pipeline, recent, printed, 100.0)
        assert recent.faces() == [], "a photo held up to the camera is not a visit to enrol from"
        visit(pipeline, recent, STRANGERS[0], 200.0)
        assert len(recent.faces()) == 1, "a live stranger still is"


def test_a_recent_face_is_listed_and_enrolled_through_the_control_socket_with_every_check(
    door: tuple[Path, FramePipeline, RecentFaces], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, pipeline, recent = door
    visit(pipeline, recent, STRANGERS[0], 100.0)
    visit(pipeline, recent, KIDMAN[0], 200.0, frames=1)  # recognised: not offered
    reloads: list[bool] = []
    path = control_path(make_config(tmp_path / "state"))
    with ControlServer(path, recent, pipeline.recognizer.model_id, lambda: reloads.append(True)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_ISSOCK(path.stat().st_mode)
        assert edgeface(config, "faces", "recent", "--json") == 0
        (listed,) = json.loads(capsys.readouterr().out)["faces"]
        assert set(listed) == {"id", "time", "first_seen", "similarity", "candidate", "quality"}

        assert edgeface(config, "enroll", "visitor", "--recent", "7") == 1
        assert capsys.readouterr().err.strip() == f"edgeface: error: no recent face 7 (held now: {listed['id']})"
        assert edgeface(config, "enroll", "nicole", "--recent", str(listed["id"])) == 1
        assert "not this person" in capsys.readouterr().err, "a stranger is not added to nicole"

        assert edgeface(config, "enroll", "visitor", "--recent", str(listed["id"]), "--json") == 0
        assert json.loads(capsys.readouterr().out)["created"] == ["visitor"]
        assert reloads == [True] and recent.faces() == [], "the door forgets it and re-reads the store"
        assert edgeface(config, "people", "show", "visitor", "--json") == 0
        (template,) = json.loads(capsys.readouterr().out)["templates"]
        assert template["source"] == "door" and template["quality"] == listed["quality"]
    assert not path.exists(), "the socket goes with the daemon"
    assert edgeface(config, "faces", "recent") == 1
    assert "no control socket: is the daemon running" in capsys.readouterr().err


def test_a_second_daemon_cannot_take_the_socket_and_a_path_too_long_leaves_the_door_running_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recent = RecentFaces(2, lambda image, face: image)
    path = tmp_path / "control.sock"
    with (
        ControlServer(path, recent, ("m", "0" * 64), lambda: None),
        pytest.raises(EdgefaceError, match="another daemon answers on this control socket"),
    ):
        ControlServer(path, recent, ("m", "0" * 64), lambda: None)
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    assert serve_control(deep / "control.sock", recent, ("m", "0" * 64), lambda: None) is None
    assert "cannot make the control socket" in caplog.text


TOKEN = "page-token-0123456789"


def http(port: int, path: str, body: dict[str, object] | None = None, token: str | None = None) -> tuple[int, Any]:
    """A GET (or, with ``body``, a JSON POST) to the live page; its status and JSON answer."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("configured", [True, False])
def test_the_live_page_lists_recent_faces_and_enrols_only_with_its_token(
    door: tuple[Path, FramePipeline, RecentFaces], tmp_path: Path, configured: bool
) -> None:
    config, pipeline, recent = door
    visit(pipeline, recent, STRANGERS[0], 100.0)
    (face,) = recent.faces()
    reloads: list[bool] = []
    view = LiveView(5.0)
    port = view.serve("127.0.0.1", 0, [])
    store = (tmp_path / "state" / "people.db", False, 365.0)
    view.recent = RecentPage(
        recent, TOKEN if configured else None, pipeline.recognizer, store, lambda: reloads.append(True)
    )
    try:
        status, listed = http(port, "/recent.json")
        assert status == 200 and (listed["can_enrol"], listed["token_configured"]) == (False, configured)
        assert [f["id"] for f in listed["faces"]] == [face.id] and "crop" not in listed["faces"][0], "no crop unasked"
        assert http(port, "/enrol", {"name": "visitor", "ids": [face.id]})[0] == (401 if configured else 403)
        assert http(port, "/enrol", {"name": "visitor", "ids": [face.id]}, token="wrong-token-0123456789")[0] in (
            401,
            403,
        )
        if not configured:
            assert templates(config) == {"nicole": 1} and recent.faces() and not reloads
            return
        status, listed = http(port, "/recent.json", token=TOKEN)
        assert listed["can_enrol"] and listed["faces"][0]["crop"].startswith("data:image/jpeg;base64,")
        assert http(port, "/enrol", {"name": "nicole", "ids": [face.id]}, token=TOKEN)[0] == 409, "not nicole"
        status, reply = http(port, "/enrol", {"name": "visitor", "ids": [face.id]}, token=TOKEN)
        assert (status, reply["enrolled"]) == (200, [face.id])
    finally:
        view.close()
    assert templates(config) == {"nicole": 1, "visitor": 1} and reloads == [True] and recent.faces() == []
    with AuditLog(tmp_path / "state" / "people.db", retention_days=365) as audit:
        (entry,) = [e for e in audit.entries() if e.person == "visitor"]
    assert entry.reason is not None and entry.reason.endswith("; by live page")


def templates(config: Path) -> dict[str, int]:
    with Store(config.parent / "state" / "people.db") as store:
        return {p.name: p.templates + p.other_templates for p in store.people()}


def test_with_faces_on_disk_the_recent_faces_outlive_a_restart_in_a_private_file_until_retention(
    door: tuple[Path, FramePipeline, RecentFaces], tmp_path: Path
) -> None:
    _, pipeline, memory_only = door
    cfg = make_config(tmp_path / "state", faces=FacesConfig(on_disk=True), store=StoreConfig(image_retention_days=1))
    disk = recent_file(cfg)
    assert disk is not None and disk.path == tmp_path / "state" / "recent_faces.npz"
    now = [1_000_000.0]
    crop = memory_only._crop
    recent = RecentFaces(2, crop, lambda: now[0], disk=disk)
    visit(pipeline, recent, STRANGERS[0], 100.0)
    (seen,) = recent.faces()
    recent.close()
    assert stat.S_IMODE(disk.path.stat().st_mode) == 0o600

    now[0] += 3600.0  # the daemon restarts an hour later
    again = RecentFaces(2, crop, lambda: now[0], disk=disk)
    (kept,) = again.faces()
    assert (kept.id, kept.candidate, kept.quality) == (seen.id, seen.candidate, seen.quality)
    np.testing.assert_array_equal(kept.vector, seen.vector)
    np.testing.assert_array_equal(kept.crop, seen.crop)
    visit(pipeline, again, STRANGERS[1], 900.0)
    assert [f.id for f in again.faces()] == [seen.id + 1, seen.id], "ids go on from the file's"

    now[0] += 86_400.0  # a day later: past store.image_retention_days
    assert RecentFaces(2, crop, lambda: now[0], disk=disk).faces() == []
    assert recent_file(make_config(tmp_path / "state")) is None and not disk.path.exists(), "off: the file goes"
