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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edgeface.errors import EdgefaceError
from edgeface.storage.people import Store, check_name
from edgeface.values import Face, Image, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.images import decode_image, encode_jpeg, is_photo, read_image_file
from edgeface.vision.pick import prominent_faces
from edgeface.vision.quality import QualityGates, sharpness, yaw
from edgeface.vision.recognize import Recognizer

log = logging.getLogger(__name__)

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
        jpeg = (
            encode_jpeg(align(image, face, CropSpec.for_profile(recognizer.embedder.profile)))
            if store.keep_images
            else None
        )
        digest = hashlib.sha256(data).hexdigest()
        added = store.add_template(
            name, vector[0], recognizer.model_id, source=photo.name, photo_sha256=digest, jpeg=jpeg
        )
        yield EnrolResult(name, photo, Outcome.ENROLLED if added is not None else Outcome.ALREADY_ENROLLED)


# -- enrolment from the camera ----------------------------------------------------------------------------------

CAMERA_GATES = QualityGates(min_face=80.0, min_sharpness=30.0, max_yaw=0.25)
"""Stricter than the door's gates: a template is compared with every visit for as long as it is kept."""
MIN_GAP_SECONDS = 0.2


@dataclass(frozen=True)
class Shot:
    """A usable camera frame of the person being enrolled."""

    image: Image
    face: Face
    score: float
    ts: float


def shot_quality(image: Image, face: Face, gates: QualityGates = CAMERA_GATES) -> tuple[float, str | None]:
    """A score (higher is better) and, when the face is not good enough, what the person should do."""
    sharp, turn = sharpness(image, face), yaw(face)
    if face.size < gates.min_face:
        return 0.0, "come closer to the camera"
    if turn > gates.max_yaw:
        return 0.0, "look straight at the camera"
    if sharp < gates.min_sharpness:
        return 0.0, "hold still: the face is blurred"
    # Sharpness saturates (a sharp face is sharp enough); size and frontality keep counting.
    return min(sharp, 300.0) / 300.0 * min(face.size, 300.0) / 300.0 * (1.0 - turn), None


def best_shots(
    recognizer: Recognizer,
    frames: Iterable[tuple[Image, float]],
    count: int,
    on_hint: Callable[[str], None],
    on_shot: Callable[[int], None],
) -> list[Shot]:
    """Watch frames until 3×count usable shots were seen (or the frames end); keep the best ``count``."""
    shots: list[Shot] = []
    seen: set[bytes] = set()
    for image, ts in frames:
        faces = prominent_faces(recognizer.detect(image), image.shape)
        if len(faces) != 1:
            on_hint("no face in view" if not faces else "only the person being enrolled in front of the camera")
            continue
        score, hint = shot_quality(image, faces[0])
        if hint is not None:
            on_hint(hint)
            continue
        if shots and ts - shots[-1].ts < MIN_GAP_SECONDS:
            continue  # nearly the same frame again: wait for a slightly different view
        digest = hashlib.sha1(image.tobytes(), usedforsecurity=False).digest()
        if digest in seen:
            continue  # a looping file source shows the same picture again: it adds nothing
        seen.add(digest)
        shots.append(Shot(image, faces[0], score, ts))
        on_shot(len(shots))
        if len(shots) >= 3 * count:
            break
    return sorted(shots, key=lambda s: s.score, reverse=True)[:count]


def enroll_shots(recognizer: Recognizer, store: Store, name: str, shots: list[Shot]) -> int:
    """Store a template for each shot; returns how many were added."""
    check_name(name)
    if not shots:
        return 0
    added = 0
    spec = CropSpec.for_profile(recognizer.embedder.profile)
    vectors = recognizer.embedder.embed([align(s.image, s.face, spec) for s in shots])
    for shot, vector in zip(shots, vectors, strict=True):
        jpeg = encode_jpeg(shot.image)
        crop = encode_jpeg(align(shot.image, shot.face, spec)) if store.keep_images else None
        digest = hashlib.sha256(jpeg).hexdigest()
        source = f"camera {shot.ts:.3f}"
        if store.add_template(name, vector, recognizer.model_id, source=source, photo_sha256=digest, jpeg=crop):
            added += 1
    return added
