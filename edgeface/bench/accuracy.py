"""``edgeface bench accuracy``: recognition accuracy on a labelled folder of photos.

The protocol is a contract (other people compare numbers made with it):

* ``DIR/<person>/*`` are enrolled people, ``DIR/unknown/*`` people who must be rejected.
* For each person the first K photos in sorted order are enrolled (with the same
  rules as ``edgeface enroll``); every other photo is a genuine probe.
* Impostor probes: every ``unknown/`` photo, plus every genuine probe matched
  again against the gallery without its own person (leave-own-identity-out).
* Genuine probe: correct accept if its best match is its own person above the
  threshold, misidentified if another person is accepted, false reject otherwise.
  Impostor probe: false accept if anyone is accepted.
* The threshold is the product's own for the whole gallery (the target FAR held for its template count,
  see :mod:`edgeface.vision.threshold`) unless ``--threshold`` fixes one; a person with several
  templates is scored as ``match.score`` says.
* ``eer`` is computed from all probe-to-template similarity pairs;
  ``recommended_threshold`` is the lowest threshold whose pair false-match rate is ≤ 0.1 %.
* ``galleries`` (``--gallery-sizes``): the same probes against random galleries of each size, the
  people left out becoming strangers (see :mod:`edgeface.bench.openset`): ``tar_at_far`` is what the
  embedding reaches at ``far_target`` with a threshold chosen on those very impostors, ``tar``/``far``
  what the product's own threshold for that gallery gives.
* ``holdout`` (``--holdout SEED``): the honest check of the tail itself — fitted on half of the people
  (split by identity), the threshold it gives judged on the other half (see
  :func:`edgeface.bench.openset.holdout_study`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeface.bench.openset import ScoreTable, gallery_study, holdout_study, outcome
from edgeface.errors import ConfigError, EdgefaceError
from edgeface.values import Vectors
from edgeface.vision.images import IMPOSTOR_FOLDER, is_photo, load_image
from edgeface.vision.match import Gallery
from edgeface.vision.pick import primary_face, sole_face
from edgeface.vision.recognize import MatchSettings, Recognizer
from edgeface.vision.scores import equal_error_rate, threshold_for_fmr

log = logging.getLogger(__name__)

TARGET_PAIR_FMR = 0.001
DEFAULT_FAR_TARGET = 0.001


@dataclass(frozen=True)
class AccuracyReport:
    model: str
    threshold: float
    people: int
    enroll_per_person: int
    genuine_probes: int
    impostor_probes: int
    correct_accepts: int
    false_rejects: int
    misidentified: int
    false_accepts: int
    no_face: int
    enroll_failures: int
    tar: float
    far: float
    eer: float
    recommended_threshold: float
    target_far: float | None
    """The false-accept rate per attempt the threshold was chosen to hold; None for a fixed threshold."""
    threshold_source: str
    far_target: float
    galleries: list[dict[str, object]]
    holdout: dict[str, object] | None = None
    """``--holdout SEED``: the impostor tail fitted on half of the people, judged on the other half."""

    def to_dict(self) -> dict[str, object]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Probe:
    person: str | None
    """None for impostors from ``unknown/``."""
    vector: Vectors | None
    """None when no face was found."""


def labelled_photos(faces_dir: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    if not faces_dir.is_dir():
        raise ConfigError(f"{faces_dir}: not a folder of <person>/ photo folders")
    people = {
        d.name: sorted(p for p in d.iterdir() if is_photo(p))
        for d in sorted(faces_dir.iterdir())
        if d.is_dir() and d.name != IMPOSTOR_FOLDER
    }
    unknown_dir = faces_dir / IMPOSTOR_FOLDER
    unknown = sorted(p for p in unknown_dir.iterdir() if is_photo(p)) if unknown_dir.is_dir() else []
    return {k: v for k, v in people.items() if v}, unknown


def probe_vector(recognizer: Recognizer, photo: Path) -> Vectors | None:
    """The embedding of a photo's main face (the largest), or None without a face."""
    try:
        image = load_image(photo)
    except EdgefaceError as exc:
        log.warning("%s", exc)
        return None
    face = primary_face(recognizer.detect(image), image.shape)
    return None if face is None else np.asarray(recognizer.embed(image, [face])[0], np.float32)


def enrol_vector(recognizer: Recognizer, photo: Path) -> Vectors | None:
    """The template enrolment makes of a photo (its one prominent face); None, logged, when it makes none."""
    try:
        image = load_image(photo)
    except EdgefaceError as exc:
        log.warning("enrolment photo skipped: %s", exc)
        return None
    face, count = sole_face(recognizer.detect(image), image.shape)
    if face is None:
        log.warning("enrolment photo skipped: %s: %d prominent faces", photo, count)
        return None
    return np.asarray(recognizer.embed(image, [face])[0], np.float32)


@dataclass(frozen=True)
class Collected:
    """A labelled folder embedded once: the enrolled templates and every probe (scored as often as wanted)."""

    people: dict[str, list[Path]]
    enroll_per_person: int
    enrolled: Gallery
    probes: list[Probe]
    enroll_failures: int


def collect(
    recognizer: Recognizer,
    faces_dir: Path,
    enroll_per_person: int = 1,
    progress: Callable[[Iterable[tuple[str | None, Path]]], Iterable[tuple[str | None, Path]]] = lambda it: it,
) -> Collected:
    """Enrol the first K photos of each person and embed every other photo as a probe."""
    people, unknown = labelled_photos(faces_dir)
    if not people:
        raise ConfigError(f"{faces_dir}: no <person>/ folders with photos")
    jobs: list[tuple[str | None, Path]] = [(n, p) for n, ps in people.items() for p in ps] + [
        (None, p) for p in unknown
    ]
    templates: dict[str, list[Vectors]] = {}
    probes: list[Probe] = []
    enroll_failures = 0
    for name, photo in progress(jobs):
        if name is not None and photo in people[name][:enroll_per_person]:
            vector = enrol_vector(recognizer, photo)
            enroll_failures += vector is None
            if vector is not None:
                templates.setdefault(name, []).append(vector)
        else:
            probes.append(Probe(name, probe_vector(recognizer, photo)))
    dim = recognizer.embedder.profile.output_dim
    enrolled = Gallery.build({n: np.stack(v) for n, v in templates.items()}, dim)
    return Collected(people, enroll_per_person, enrolled, probes, enroll_failures)


def evaluate(
    collected: Collected,
    recognizer: Recognizer,
    threshold: float | None = None,
    *,
    gallery_sizes: Sequence[int] = (),
    far_target: float = DEFAULT_FAR_TARGET,
    repetitions: int = 5,
    seed: int = 0,
    holdout: int | None = None,
) -> AccuracyReport:
    """Score the collected probes with the recognizer's matching (or a fixed ``threshold``)."""
    people, enrolled, probes = collected.people, collected.enrolled, collected.probes
    dim = recognizer.embedder.profile.output_dim
    fixed = MatchSettings.fixed(threshold) if threshold is not None else None
    policy = (fixed or recognizer.matching).policy
    decision = policy.for_gallery(enrolled.template_count)
    margin = recognizer.matching.margin
    scored = recognizer.scored(enrolled)
    found = [p for p in probes if p.vector is not None]
    vectors = np.stack([p.vector for p in found if p.vector is not None]) if found else np.zeros((0, dim), np.float32)
    counts = np.diff(np.append(enrolled.starts, len(enrolled.vectors))).astype(np.intp)
    table = ScoreTable(
        sims=scored.person_similarities(vectors) if len(scored) else np.zeros((len(found), 0), np.float32),
        probe_people=tuple(p.person for p in found),
        columns={n: i for i, n in enumerate(scored.names)},
        templates=counts,
    )
    # The whole gallery with the protocol's counts: probes without a face are false rejects or true rejects.
    full = outcome(table, list(people), decision.value, margin)
    genuine_total = sum(p.person is not None for p in probes)
    impostor_total = genuine_total + sum(p.person is None for p in probes)
    rng = np.random.default_rng(seed)
    galleries = [
        gallery_study(
            table,
            list(people),
            size,
            far_target=far_target,
            threshold_for=lambda n: policy.for_gallery(n).value,
            repetitions=repetitions,
            rng=rng,
            margin=margin,
        )
        for size in gallery_sizes
    ]
    pair_sims = vectors @ enrolled.vectors.T
    held_out = None
    if holdout is not None:
        held_out = holdout_study(
            table,
            pair_sims,
            [enrolled.names[o] for o in enrolled.owners],
            list(people),
            target_far=decision.target_far or far_target,
            sizes=gallery_sizes,
            seed=holdout,
            repetitions=repetitions,
            margin=margin,
        )
    same = np.array([[found[i].person == enrolled.names[o] for o in enrolled.owners] for i in range(len(found))], bool)
    same = same.reshape(pair_sims.shape)
    return AccuracyReport(
        model=recognizer.embedder.profile.name,
        threshold=decision.value,
        people=len(people),
        enroll_per_person=collected.enroll_per_person,
        genuine_probes=genuine_total,
        impostor_probes=impostor_total,
        correct_accepts=full.correct,
        false_rejects=genuine_total - full.correct - full.misidentified,
        misidentified=full.misidentified,
        false_accepts=full.false_accepts,
        no_face=sum(p.vector is None for p in probes),
        enroll_failures=collected.enroll_failures,
        tar=full.correct / genuine_total if genuine_total else 0.0,
        far=full.false_accepts / impostor_total if impostor_total else 0.0,
        eer=equal_error_rate(pair_sims[same], pair_sims[~same]),
        recommended_threshold=threshold_for_fmr(pair_sims[~same], TARGET_PAIR_FMR),
        target_far=decision.target_far,
        threshold_source=decision.source,
        far_target=far_target,
        galleries=galleries,
        holdout=held_out,
    )


def run_accuracy(
    recognizer: Recognizer,
    faces_dir: Path,
    enroll_per_person: int = 1,
    threshold: float | None = None,
    progress: Callable[[Iterable[tuple[str | None, Path]]], Iterable[tuple[str | None, Path]]] = lambda it: it,
    *,
    gallery_sizes: Sequence[int] = (),
    far_target: float = DEFAULT_FAR_TARGET,
    repetitions: int = 5,
    seed: int = 0,
    holdout: int | None = None,
) -> AccuracyReport:
    """``edgeface bench accuracy``: :func:`collect` then :func:`evaluate`."""
    collected = collect(recognizer, faces_dir, enroll_per_person, progress)
    return evaluate(
        collected,
        recognizer,
        threshold,
        gallery_sizes=gallery_sizes,
        far_target=far_target,
        repetitions=repetitions,
        seed=seed,
        holdout=holdout,
    )
