"""The face a photo is about, and whether another face makes the photo ambiguous.

Photos (enrolment, ``identify``, the benchmarks) often hold more than one face, and the largest is
not always the subject: in news photos it is sometimes a bystander cut by the frame's edge, and
picking it enrols or probes the wrong person. On lfw-dev, where the labelled person is at the
centre, the largest-face rule and this one differ on 29 of 4,847 photos, and with 854 people
enrolled EdgeFace-XS's TAR at FAR 1e-3 goes from 0.24 to 0.92 (MobileFaceNet: 0.66 to 0.79).

The rule: among faces wholly inside the frame (a box may overhang by :data:`OVERHANG` of its own
size, as detectors' boxes do), or among all faces if none is, take the one that is largest and
most central — ``size / largest size − distance from the image centre / half the diagonal``.
"""

from __future__ import annotations

import math

from edgeface.values import Face

OVERHANG = 0.10
"""A box sticking out of the image by more than this fraction of its size is a face cut by the edge."""
CENTRE_WEIGHT = 1.0
"""How much a face's distance from the centre (0 to 1) counts against its relative size (0 to 1)."""
AMBIGUITY = 0.3
"""A second whole face whose pick score is within this of the subject's makes a photo ambiguous: two people
side by side, neither of them clearly the one in front. (A size-ratio rule refused 69 of lfw-dev's 854
enrolment photos, most of them a portrait with a smaller bystander; this one refuses 1.)"""


def cut_by_edge(face: Face, shape: tuple[int, ...]) -> bool:
    """Whether the face's box runs off the image by more than :data:`OVERHANG` of its size."""
    height, width = shape[:2]
    x, y, w, h = face.box
    overhang = max(-x, -y, x + w - width, y + h - height)
    return overhang > OVERHANG * min(w, h)


def primary_face(faces: list[Face], shape: tuple[int, ...]) -> Face | None:
    """The face a photo of ``shape`` (H, W, ...) is about; None if there is no face."""
    ranked = _ranked(faces, shape)
    return ranked[0][1] if ranked else None


def prominent_faces(faces: list[Face], shape: tuple[int, ...]) -> list[Face]:
    """The primary face and every other whole face that competes with it (within :data:`AMBIGUITY`).

    A smaller or off-centre face, or one cut by the photo's edge, does not make a portrait
    ambiguous for enrolment; a second face as large and as central does.
    """
    ranked = _ranked(faces, shape)
    if not ranked:
        return []
    (best, subject), rest = ranked[0], ranked[1:]
    return [subject] + [f for s, f in rest if s >= best - AMBIGUITY and not cut_by_edge(f, shape)]


def sole_face(faces: list[Face], shape: tuple[int, ...]) -> tuple[Face | None, int]:
    """The one prominent face of a portrait (None when it has none or several), and how many it has."""
    prominent = prominent_faces(faces, shape)
    return (prominent[0] if len(prominent) == 1 else None), len(prominent)


def _ranked(faces: list[Face], shape: tuple[int, ...]) -> list[tuple[float, Face]]:
    """The candidate faces with their pick scores, best first."""
    whole = [f for f in faces if not cut_by_edge(f, shape)] or faces
    if not whole:
        return []
    height, width = shape[:2]
    largest = max(f.size for f in whole)
    half_diagonal = 0.5 * math.hypot(width, height)

    def score(face: Face) -> float:
        cx, cy = face.centre
        offset = math.hypot(cx - width / 2, cy - height / 2) / half_diagonal
        return face.size / largest - CENTRE_WEIGHT * offset

    return sorted(((score(f), f) for f in whole), key=lambda pair: -pair[0])
