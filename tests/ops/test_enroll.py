"""Enrolment from photos: a faces/ folder skips nothing silently, and a person is enrolled whole or not at all."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from edgeface.ops.enroll import Outcome, scan_faces
from edgeface.storage.people import Store
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, ROOT

OBAMA = sorted((FACES / "barack_obama").glob("*.jpg"))
KIDMAN = FACES / "nicole_kidman" / "1.jpg"
BIDEN = FACES / "joe_biden" / "1.jpg"


@pytest.fixture
def faces(tmp_path: Path) -> Path:
    """A faces/ folder with photos in three formats, one without a suffix, and every kind of link and stray file."""
    root = tmp_path / "faces"
    (root / "alice").mkdir(parents=True)
    shutil.copy(OBAMA[0], root / "alice" / "1.jpg")
    assert cv2.imwrite(str(root / "alice.tif"), cv2.imread(str(OBAMA[1])))
    assert cv2.imwrite(str(root / "bob.gif"), cv2.imread(str(KIDMAN)))
    shutil.copy(BIDEN, root / "dave")  # a JPEG without a suffix: the content says it is a photo
    (root / "notes.txt").write_text("who is who\n")
    (root / "loop").symlink_to("loop")
    (root / "gone.jpg").symlink_to("nowhere.jpg")
    (root / "eve").symlink_to(".")  # the same photos under a second name
    (root / "mallory").symlink_to("alice")
    (root / "alias.jpg").symlink_to(Path("alice") / "1.jpg")
    return root


def test_a_faces_folder_reports_every_file_it_skips_and_why(faces: Path) -> None:
    scan = scan_faces(faces)
    assert [(name, p.relative_to(faces).as_posix()) for name, p in scan.photos] == [
        ("alice", "alice/1.jpg"), ("alice", "alice.tif"), ("bob", "bob.gif"), ("dave", "dave"),
    ]  # fmt: skip
    skipped = {r.photo.name: (r.outcome, r.detail) for r in scan.skipped}
    assert skipped.keys() == {"notes.txt", "loop", "gone.jpg", "eve", "mallory", "alias.jpg"}
    assert skipped["notes.txt"] == (Outcome.NOT_A_PHOTO, f"{faces / 'notes.txt'}: not a photo")
    assert skipped["loop"][0] is Outcome.UNREADABLE and "Too many levels of symbolic links" in skipped["loop"][1]
    assert skipped["gone.jpg"][0] is Outcome.UNREADABLE and "No such file" in skipped["gone.jpg"][1]
    for link in ("eve", "mallory"):
        assert skipped[link][0] is Outcome.DUPLICATE and "would be enrolled twice" in skipped[link][1]
    assert skipped["alias.jpg"] == (
        Outcome.DUPLICATE, f"{faces / 'alias.jpg'}: the same file as {faces / 'alice' / '1.jpg'}"
    )  # fmt: skip


def test_enrolling_the_folder_says_what_it_skipped_and_enrols_each_photo_once(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "enroll", "--from-dir", str(faces)) == 0
    err = capsys.readouterr().err
    for name in ("notes.txt", "loop", "gone.jpg", "eve", "mallory", "alias.jpg"):
        assert f"skipped {faces / name}: " in err, err
    with Store(tmp_path / "state" / "people.db") as store:
        assert {p.name: p.templates + p.other_templates for p in store.people()} == {"alice": 2, "bob": 1, "dave": 1}


def test_names_are_normalised_and_look_alikes_of_enrolled_names_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "enroll", "alice ", str(OBAMA[0])) == 0
    capsys.readouterr()
    assert edgeface(config, "enroll", "\u0430lice", str(OBAMA[1])) == 1  # a Cyrillic "а"
    assert "mixes Cyrillic and Latin letters" in capsys.readouterr().err
    assert edgeface(config, "enroll", "Alice", str(OBAMA[1])) == 1
    assert "'Alice' looks like the enrolled person 'alice'" in capsys.readouterr().err
    assert edgeface(config, "enroll", "\uff41lice", str(OBAMA[1])) == 0  # a full-width "ａ" is an "a" (NFKC)
    with Store(tmp_path / "state" / "people.db") as store:
        assert {p.name: p.templates + p.other_templates for p in store.people()} == {"alice": 2}


def _open_writer(fifo: Path, timeout: float) -> int:
    """Open ``fifo`` for writing once a reader has opened it: the moment the enrolment reaches that photo."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.slow
def test_an_enrolment_killed_halfway_leaves_the_person_not_enrolled_at_all(tmp_path: Path) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    blocking = tmp_path / "4.jpg"
    os.mkfifo(blocking)  # reading it waits for a writer: the enrolment stops there, three photos in
    photos = [*map(str, OBAMA[:3]), str(blocking), *map(str, OBAMA[3:])]
    command = [sys.executable, "-m", "edgeface", "--config", str(config), "enroll", "barack", *photos]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        os.close(_open_writer(blocking, 60))
    finally:
        child.kill()  # SIGKILL: no handler, no cleanup
        _, err = child.communicate(timeout=10)
    assert child.returncode == -9, err
    with Store(tmp_path / "state" / "people.db") as store:
        assert store.people() == [], "three of six photos were enrolled and nothing said so"
    assert edgeface(config, "enroll", "barack", *map(str, OBAMA)) == 0, "and enrolling again works"
    with Store(tmp_path / "state" / "people.db") as store:
        assert [(p.name, p.templates + p.other_templates) for p in store.people()] == [("barack", len(OBAMA))]
