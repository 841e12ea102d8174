"""What a ``faces/`` folder holds: each person's photos, and everything skipped with the reason.

Nothing is skipped without a message: files that are not photos (by name or content), symbolic
links that loop or point nowhere, a link to a folder inside ``faces/`` (``eve -> .`` would enrol
the same photos under a second name), a file reached twice through links, and a flat photo whose
file name names no one (:mod:`edgeface.ops.naming`) are each reported once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgeface.ops.naming import person_from_file
from edgeface.ops.results import EnrolResult, Outcome
from edgeface.vision.images import IMPOSTOR_FOLDER, has_photo_suffix, image_kind

log = logging.getLogger(__name__)

_SNIFF_BYTES = 16


@dataclass
class FacesScan:
    """What a ``faces/`` folder holds: photos by person, and everything skipped with the reason."""

    photos: list[tuple[str, Path]] = field(default_factory=list)
    """(person, photo) pairs, each person's photos together."""
    skipped: list[EnrolResult] = field(default_factory=list)


def _looks_like_photo(path: Path) -> bool:
    if has_photo_suffix(path):
        return True
    try:
        with path.open("rb") as fh:
            return image_kind(fh.read(_SNIFF_BYTES)) is not None
    except OSError:
        return True  # unreadable: let the reader report it


def _dangling(path: Path) -> str | None:
    """Why a directory entry cannot be followed (a link that loops or points nowhere), or None."""
    try:
        path.stat()
    except OSError as exc:
        return f"{path}: a symbolic link that cannot be followed ({exc.strerror})"
    return None


def _real_first(folder: Path) -> list[Path]:
    """A folder's entries by name, links after the real files: a file reached twice is kept by its real name."""
    return sorted(folder.iterdir(), key=lambda p: (p.is_symlink(), p.name))


def scan_faces(directory: Path) -> FacesScan:
    """The seed's ``faces/`` layout: ``DIR/<name>/*.jpg`` folders and flat ``DIR/<name>.jpg`` / ``DIR/<name>_2.jpg``
    (only where the file name is a person's name: :func:`edgeface.ops.naming.person_from_file`).

    ``DIR/unknown/`` holds impostor photos for the benchmark and is skipped. Files are taken as photos
    by their name or, without a photo suffix, by their content; hidden files are ignored.
    """
    scan = FacesScan()
    root = directory.resolve()
    by_person: dict[str, list[Path]] = {}
    seen: dict[tuple[int, int], Path] = {}

    def add(name: str, path: Path) -> None:
        if problem := _dangling(path):
            scan.skipped.append(EnrolResult(name, path, Outcome.UNREADABLE, problem))
            return
        st = path.stat()
        if not path.is_file():
            what = "a folder inside a person's folder" if path.is_dir() else "not a regular file"
            scan.skipped.append(EnrolResult(name, path, Outcome.NOT_A_PHOTO, f"{path}: {what}"))
        elif (st.st_dev, st.st_ino) in seen:
            first = seen[(st.st_dev, st.st_ino)]
            scan.skipped.append(EnrolResult(name, path, Outcome.DUPLICATE, f"{path}: the same file as {first}"))
        elif not _looks_like_photo(path):
            scan.skipped.append(EnrolResult(name, path, Outcome.NOT_A_PHOTO, f"{path}: not a photo"))
        else:
            seen[(st.st_dev, st.st_ino)] = path
            by_person.setdefault(name, []).append(path)

    for entry in _real_first(directory):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            named = person_from_file(entry.stem)
            if named.person is None:
                scan.skipped.append(EnrolResult(entry.stem, entry, Outcome.NO_NAME, f"{entry}: {named.problem}"))
            else:
                add(named.person, entry)
            continue
        if entry.name == IMPOSTOR_FOLDER:
            log.info("%s: skipped, the folder holds impostor photos for the benchmark", entry)
            continue
        target = entry.resolve()
        if entry.is_symlink() and (target.is_relative_to(root) or root.is_relative_to(target)):
            detail = f"{entry}: a link to {target}, inside {directory} or above it: its photos would be enrolled twice"
            scan.skipped.append(EnrolResult(entry.name, entry, Outcome.DUPLICATE, detail))
            continue
        for photo in _real_first(entry):
            if not photo.name.startswith("."):
                add(entry.name, photo)
    scan.photos = [(name, photo) for name, photos in by_person.items() for photo in photos]
    return scan


def photos_in(directory: Path) -> Iterator[tuple[str, Path]]:
    """(person, photo) pairs of a ``faces/`` folder (:func:`scan_faces`), logging what it skips."""
    scan = scan_faces(directory)
    for skipped in scan.skipped:
        log.warning("skipped %s: %s", skipped.outcome.value, skipped.detail)
    yield from scan.photos
