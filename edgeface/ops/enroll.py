"""Enrolment: photos of a person → templates in the store.

A photo is enrolled when it shows exactly one prominent face; photos with no
face, several faces of similar size, or that cannot be read are reported and
skipped, never fatal. A person's photos are written in one transaction, after
all of them were read: an enrolment killed halfway leaves that person as before.

In a ``faces/`` folder nothing is skipped without a message: files that are not
photos (by name or content), symbolic links that loop or point nowhere, a link
to a folder inside ``faces/`` (``eve -> .`` would enrol the same photos under a
second name) and a file reached twice through links are each reported once.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgeface.errors import EdgefaceError
from edgeface.storage.people import NewTemplate, Store
from edgeface.values import Face, Image, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.images import (
    IMPOSTOR_FOLDER,
    decode_image,
    encode_jpeg,
    has_photo_suffix,
    image_kind,
    read_image_file,
)
from edgeface.vision.pick import prominent_faces, sole_face
from edgeface.vision.quality import QualityGates, sharpness, yaw
from edgeface.vision.recognize import Recognizer

log = logging.getLogger(__name__)

_NUMBERED_STEM = re.compile(r"^(?P<name>.+?)[_-]\d+$")
_SNIFF_BYTES = 16


class Outcome(str, enum.Enum):
    ENROLLED = "enrolled"
    NO_FACE = "no face"
    SEVERAL_FACES = "several faces"
    ALREADY_ENROLLED = "already enrolled"
    UNREADABLE = "unreadable"
    INVALID_NAME = "invalid name"
    NOT_A_PHOTO = "not a photo"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class EnrolResult:
    name: str
    photo: Path
    outcome: Outcome
    detail: str = ""

    @property
    def refused(self) -> bool:
        """Not in the store: a photo already enrolled is no failure."""
        return self.outcome not in (Outcome.ENROLLED, Outcome.ALREADY_ENROLLED)

    @property
    def reason(self) -> str:
        """Why, without the photo's path that ``detail`` (an error message) usually begins with."""
        prefix = f"{self.photo}: "
        text = self.detail.removeprefix(prefix) if self.detail.startswith(prefix) else self.detail
        return text or self.outcome.value

    def line(self) -> str:
        """``photo: outcome — reason``, the path once, the outcome word once (``x.jpg: no face (0 found)``)."""
        reason = self.reason
        why = reason if reason.startswith(self.outcome.value) else f"{self.outcome.value} — {reason}"
        return f"{self.photo}: {why}"

    def to_dict(self) -> dict[str, str]:
        return {"photo": str(self.photo), "name": self.name, "outcome": self.outcome.value, "reason": self.reason}


@dataclass
class EnrolTally:
    """What an enrolment did: new templates, photos already enrolled (harmless) and photos refused."""

    enrolled: int = 0
    already_enrolled: int = 0
    skipped: list[EnrolResult] = field(default_factory=list)

    def add(self, result: EnrolResult) -> None:
        if result.refused:
            self.skipped.append(result)
        elif result.outcome is Outcome.ENROLLED:
            self.enrolled += 1
        else:
            self.already_enrolled += 1

    @property
    def failed(self) -> bool:
        """Nothing usable came of it: every photo was refused. A folder enrolled before has not failed."""
        return bool(self.skipped) and not (self.enrolled or self.already_enrolled)

    def summary(self) -> str:
        already = f", {self.already_enrolled} already enrolled" if self.already_enrolled else ""
        return f"enrolled {self.enrolled} photo(s){already}, skipped {len(self.skipped)}"


def person_from_stem(stem: str) -> str:
    """``alice`` and ``alice_2`` (or ``alice-2``) both belong to ``alice``."""
    numbered = _NUMBERED_STEM.match(stem)
    return numbered.group("name") if numbered else stem


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
    """The seed's ``faces/`` layout: ``DIR/<name>/*.jpg`` folders and flat ``DIR/<name>.jpg`` / ``DIR/<name>_2.jpg``.

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
            add(person_from_stem(entry.stem), entry)
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


def single_face(recognizer: Recognizer, image: Image) -> tuple[Face | None, int]:
    """The one prominent face of a portrait, and how many prominent faces there were."""
    return sole_face(recognizer.detect(image), image.shape)


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


def _read_photo(recognizer: Recognizer, store: Store, name: str, photo: Path) -> NewTemplate | EnrolResult:
    """A photo's template, or the result saying why it has none."""
    try:
        data = read_image_file(photo)
        image = decode_image(data, str(photo))
        vector, face = embed_image(recognizer, image, str(photo))
    except EnrolmentError as exc:
        return EnrolResult(name, photo, exc.outcome, str(exc))
    except EdgefaceError as exc:
        return EnrolResult(name, photo, Outcome.UNREADABLE, str(exc))
    spec = CropSpec.for_profile(recognizer.embedder.profile)
    jpeg = encode_jpeg(align(image, face, spec)) if store.keep_images else None
    return NewTemplate(vector[0], photo.name, hashlib.sha256(data).hexdigest(), jpeg)


def _enroll_person(recognizer: Recognizer, store: Store, name: str, photos: list[Path]) -> list[EnrolResult]:
    try:
        normal = store.check_new_name(name)
    except EdgefaceError as exc:
        return [EnrolResult(name, photo, Outcome.INVALID_NAME, str(exc)) for photo in photos]
    read = [(photo, _read_photo(recognizer, store, normal, photo)) for photo in photos]
    new = [(photo, t) for photo, t in read if isinstance(t, NewTemplate)]
    ids = iter(store.add_templates(normal, recognizer.model_id, [t for _, t in new]) if new else [])
    results = []
    for photo, got in read:
        if isinstance(got, EnrolResult):
            results.append(got)
        else:
            added = next(ids) is not None
            results.append(EnrolResult(normal, photo, Outcome.ENROLLED if added else Outcome.ALREADY_ENROLLED))
    return results


def enroll_photos(recognizer: Recognizer, store: Store, items: Iterable[tuple[str, Path]]) -> Iterator[EnrolResult]:
    """Enrol each (person, photo), yielding one result per photo.

    Consecutive photos of one person are read first and then written in one transaction, so their
    results come when that person is done; give each person's photos together (:func:`scan_faces` does).
    """
    for name, group in itertools.groupby(items, key=lambda item: item[0]):
        yield from _enroll_person(recognizer, store, name, [photo for _, photo in group])


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
    """Store a template for each shot, all in one transaction; returns how many were added."""
    name = store.check_new_name(name)
    if not shots:
        return 0
    spec = CropSpec.for_profile(recognizer.embedder.profile)
    vectors = recognizer.embedder.embed([align(s.image, s.face, spec) for s in shots])
    templates = [
        NewTemplate(
            vector,
            source=f"camera {shot.ts:.3f}",
            photo_sha256=hashlib.sha256(encode_jpeg(shot.image)).hexdigest(),
            jpeg=encode_jpeg(align(shot.image, shot.face, spec)) if store.keep_images else None,
        )
        for shot, vector in zip(shots, vectors, strict=True)
    ]
    return sum(added is not None for added in store.add_templates(name, recognizer.model_id, templates))
