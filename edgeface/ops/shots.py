"""Enrolment from the camera: watch frames for good views of one person, keep the best, enrol them.

The shots go through the same checks as photos (:class:`edgeface.ops.enroll.Enrolment`): they must
agree with each other, a new name must not be someone enrolled (``enroll testcam --camera`` in front
of an enrolled person is refused), and shots added to a person must match them. With liveness on, a
view that fails the door's liveness check is never a shot: a photo or a phone held up to the camera
must not become a template any more than it may open the door.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from edgeface.errors import EdgefaceError
from edgeface.ops.enroll import Candidate, Enrolment
from edgeface.ops.results import EnrolResult
from edgeface.storage.people import NewTemplate
from edgeface.values import Face, Image
from edgeface.vision.align import CropSpec, align
from edgeface.vision.images import encode_jpeg
from edgeface.vision.pick import prominent_faces
from edgeface.vision.quality import QualityGates, face_quality, sharpness, yaw
from edgeface.vision.recognize import Recognizer

CAMERA_GATES = QualityGates(min_face=80.0, min_sharpness=30.0, max_yaw=0.25)
"""Stricter than the door's gates: a template is compared with every visit for as long as it is kept."""
MIN_GAP_SECONDS = 0.2
LIVENESS_HINT = "liveness check failed: a photo or a screen is never enrolled; the person must stand there"

LiveCheck = Callable[[Image, Face], bool]
"""Whether a face in a frame passes the door's liveness check."""


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
    return face_quality(image, face), None


def best_shots(
    recognizer: Recognizer,
    frames: Iterable[tuple[Image, float]],
    count: int,
    on_hint: Callable[[str], None],
    on_shot: Callable[[int], None],
    *,
    live: LiveCheck | None = None,
) -> list[Shot]:
    """Watch frames until 3×count usable shots were seen (or the frames end); keep the best ``count``.

    ``live``: the liveness check a shot must pass (None: liveness is off)."""
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
        if live is not None and not live(image, faces[0]):
            on_hint(LIVENESS_HINT)
            continue
        digest = hashlib.sha1(image.tobytes(), usedforsecurity=False).digest()
        if digest in seen:
            continue  # a looping file source shows the same picture again: it adds nothing
        seen.add(digest)
        shots.append(Shot(image, faces[0], score, ts))
        on_shot(len(shots))
        if len(shots) >= 3 * count:
            break
    return sorted(shots, key=lambda s: s.score, reverse=True)[:count]


def enroll_shots(enrolment: Enrolment, name: str, shots: list[Shot]) -> list[EnrolResult]:
    """Judge and store a template for each shot, all in one transaction: one result per shot.

    EdgefaceError, one line naming the reason, when every shot was refused by a check.
    """
    recognizer, keep = enrolment.recognizer, enrolment.store.keep_images
    spec = CropSpec.for_profile(recognizer.embedder.profile)
    if not shots:
        return []
    vectors = recognizer.embedder.embed([align(s.image, s.face, spec) for s in shots])
    candidates = [
        Candidate(
            Path(f"camera shot {i}"),
            NewTemplate(
                vector,
                source=f"camera {shot.ts:.3f}",
                photo_sha256=hashlib.sha256(encode_jpeg(shot.image)).hexdigest(),
                jpeg=encode_jpeg(align(shot.image, shot.face, spec)) if keep else None,
                quality=shot.score,
            ),
        )
        for i, (shot, vector) in enumerate(zip(shots, vectors, strict=True), 1)
    ]
    results = enrolment.enrol(name, candidates)
    refused = [r for r in results if r.refused]
    if refused and len(refused) == len(results):
        raise EdgefaceError(f"{name}: not enrolled: {refused[0].reason}")
    return results
