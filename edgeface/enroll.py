"""Enrolment: photos of a person → templates in the store.

A photo is enrolled when it shows exactly one prominent face; photos with no
face, several faces of similar size, or that cannot be read are reported and
skipped, never fatal, and never leave anything half-written in the store.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edgeface.align import align
from edgeface.detect import prominent_faces
from edgeface.errors import EdgefaceError
from edgeface.images import decode_image, encode_jpeg, read_image_file
from edgeface.recognize import Recognizer
from edgeface.store import Store, check_name
from edgeface.values import Face, Image, Vectors

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
IMPOSTOR_FOLDER = "unknown"
_NUMBERED_STEM = re.compile(r"^(?P<name>.+?)[_-]\d+$")


class Outcome(str, enum.Enum):
    ENROLLED = "enrolled"
    NO_FACE = "no face"
    SEVERAL_FACES = "several faces"
    ALREADY_ENROLLED = "already enrolled"
    UNREADABLE = "unreadable"
    INVALID_NAME = "invalid name"


@dataclass(frozen=True)
class EnrolResult:
    name: str
    photo: Path
    outcome: Outcome
    detail: str = ""


def is_photo(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES


def person_from_stem(stem: str) -> str:
    """``alice`` and ``alice_2`` (or ``alice-2``) both belong to ``alice``."""
    numbered = _NUMBERED_STEM.match(stem)
    return numbered.group("name") if numbered else stem


def photos_in(directory: Path) -> Iterator[tuple[str, Path]]:
    """(person, photo) pairs from the seed's ``faces/`` layout.

    ``DIR/<name>/*.jpg`` folders and flat ``DIR/<name>.jpg`` / ``DIR/<name>_2.jpg``
    files; ``DIR/unknown/`` holds impostor photos for the benchmark and is skipped.
    """
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            if entry.name == IMPOSTOR_FOLDER:
                log.info("%s: skipped, the folder holds impostor photos for the benchmark", entry)
                continue
            for photo in sorted(entry.iterdir()):
                if is_photo(photo):
                    yield entry.name, photo
        elif is_photo(entry):
            yield person_from_stem(entry.stem), entry


def single_face(recognizer: Recognizer, image: Image) -> tuple[Face | None, int]:
    """The one prominent face of a portrait, and how many prominent faces there were."""
    faces = prominent_faces(recognizer.detect(image), image.shape)
    return (faces[0] if len(faces) == 1 else None), len(faces)


class EnrolmentError(EdgefaceError):
    """A photo that cannot be enrolled, with the outcome to report."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def embed_image(recognizer: Recognizer, image: Image, name: str) -> tuple[Vectors, Face]:
    """Embed the single prominent face of an image; EnrolmentError if there is none or several."""
    face, count = single_face(recognizer, image)
    if face is None:
        outcome = Outcome.NO_FACE if count == 0 else Outcome.SEVERAL_FACES
        raise EnrolmentError(outcome, f"{name}: {outcome.value} ({count} found)")
    return recognizer.embed(image, [face]), face


def enroll_photos(recognizer: Recognizer, store: Store, items: Iterable[tuple[str, Path]]) -> Iterator[EnrolResult]:
    """Enrol each (person, photo), yielding one result per photo as it is done."""
    for name, photo in items:
        try:
            check_name(name)
        except EdgefaceError as exc:
            yield EnrolResult(name, photo, Outcome.INVALID_NAME, str(exc))
            continue
        try:
            data = read_image_file(photo)
            image = decode_image(data, str(photo))
            vector, face = embed_image(recognizer, image, str(photo))
        except EnrolmentError as exc:
            yield EnrolResult(name, photo, exc.outcome, str(exc))
            continue
        except EdgefaceError as exc:
            yield EnrolResult(name, photo, Outcome.UNREADABLE, str(exc))
            continue
        jpeg = encode_jpeg(align(image, face, recognizer.embedder.profile.crop_spec)) if store.keep_images else None
        digest = hashlib.sha256(data).hexdigest()
        added = store.add_template(
            name, vector[0], recognizer.model_id, source=photo.name, photo_sha256=digest, jpeg=jpeg
        )
        yield EnrolResult(name, photo, Outcome.ENROLLED if added is not None else Outcome.ALREADY_ENROLLED)
