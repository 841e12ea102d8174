"""Enrolment: faces of a person → templates in the store, only once they are judged to be that person.

A photo is enrolled when it shows exactly one prominent face; photos with no face, several faces of
similar size, or that cannot be read are reported and skipped, never fatal. Every face is then checked
(:mod:`edgeface.vision.vetting`) against everyone enrolled, the people enrolled earlier in the same
command included: a face added to a person must match them, a new name must not be someone enrolled,
and the photos of one name must agree with each other. ``--force`` overrides the first and last,
``--allow-similar`` the second (twins); an override is said in the audit log.

A person's templates are written in one transaction, after all of them were read and judged: an
enrolment killed halfway leaves that person as before. Each person written is one audit log entry
(who ran it, what was added, any override). A dry run judges everything and writes nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeface.errors import EdgefaceError, StaleTemplatesError
from edgeface.ops.results import EnrolResult, EnrolTally, Outcome
from edgeface.ops.scan import FacesScan, photos_in, scan_faces
from edgeface.storage.audit import AuditLog, Change, local_user
from edgeface.storage.people import NewTemplate, Store
from edgeface.values import Face, Image, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.images import decode_image, encode_jpeg, read_image_file
from edgeface.vision.match import Gallery
from edgeface.vision.pick import sole_face
from edgeface.vision.quality import face_quality
from edgeface.vision.recognize import Recognizer
from edgeface.vision.vetting import Rules, Verdict, Vetter, agreement

__all__ = [
    "Candidate",
    "EnrolResult",
    "EnrolTally",
    "Enrolment",
    "EnrolmentError",
    "FacesScan",
    "Outcome",
    "Overrides",
    "door_candidate",
    "embed_image",
    "enroll_photos",
    "photos_in",
    "scan_faces",
    "single_face",
]

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Candidate:
    """A face offered for enrolment: what to call it in messages, and its template."""

    label: Path
    template: NewTemplate


def door_candidate(face_id: int, seen: str, vector: Vectors, jpeg: bytes, quality: float, *, keep: bool) -> Candidate:
    """A face the door saw (``faces recent``): its embedding as the daemon made it, and its crop kept if ``keep``."""
    template = NewTemplate(
        np.asarray(vector, np.float32).reshape(-1),
        source=f"door {seen}",
        photo_sha256=hashlib.sha256(jpeg).hexdigest(),
        jpeg=jpeg if keep else None,
        quality=quality,
    )
    return Candidate(Path(f"recent face {face_id}"), template)


@dataclass(frozen=True)
class Overrides:
    """The checks an operator may override for one command; each override is audited."""

    force: bool = False
    """``--force``: add a face that does not match its person, or photos of one name that disagree."""
    allow_similar: bool = False
    """``--allow-similar``: a new name for a face that passes for someone enrolled (twins)."""

    def allows(self, verdict: Verdict) -> bool:
        return self.allow_similar if verdict.kind == "already_enrolled" else self.force


_REFUSED = {"not_them": Outcome.NOT_THEM, "already_enrolled": Outcome.ENROLLED_ELSEWHERE, "disagree": Outcome.DISAGREE}
_FLAG = {"already_enrolled": "--allow-similar"}


class Enrolment:
    """One enrolment command against ``store`` (see the module docstring); :attr:`created` and
    :attr:`extended` name the people it gave templates."""

    def __init__(
        self,
        recognizer: Recognizer,
        store: Store,
        *,
        overrides: Overrides | None = None,
        dry_run: bool = False,
        audit: AuditLog | None = None,
        by: str | None = None,
    ) -> None:
        self.recognizer, self.store, self.audit = recognizer, store, audit
        self.overrides = overrides or Overrides()
        self.dry_run = dry_run
        self.by = by or local_user()
        self.created: list[str] = []
        self.extended: list[str] = []
        self._dim = recognizer.embedder.profile.output_dim
        try:
            gallery = store.gallery_for(recognizer.embedder)
        except StaleTemplatesError:  # only another model's templates: nothing to compare with, a re-enrolment
            gallery = Gallery.empty(self._dim)
        owners = gallery.owners
        self._vectors = {name: list(gallery.vectors[owners == i]) for i, name in enumerate(gallery.names)}
        self._known = {p.name for p in store.people()}
        self._vetter: Vetter | None = None

    def vetter(self) -> Vetter:
        """The checks against everyone enrolled so far, this command's people included."""
        if self._vetter is None:
            gallery = Gallery.build({n: np.stack(v) for n, v in self._vectors.items() if v}, self._dim)
            rules = Rules.from_policy(self.recognizer.matching.policy, gallery.template_count)
            self._vetter = Vetter(gallery, self.recognizer.scored(gallery), rules)
        return self._vetter

    def _vet(self, name: str, vectors: Vectors) -> list[tuple[Verdict | None, list[Verdict]]]:
        """Each face's refusal (None: it may be enrolled) and the failed checks an override let through."""
        vetter = self.vetter()
        together = agreement(name, vectors, vetter.rules.verify)
        judged = [vetter.judge(name, row) for row in vectors]
        enrolled = next((v for v in judged if v.kind == "already_enrolled"), None)
        if not vetter.templates(name) and enrolled is not None:
            # A new name is refused whole when any face of it passes for someone enrolled.
            also = Verdict(f"another photo of {name} is {enrolled.problem}", enrolled.like, enrolled.kind)
            judged = [v if not v.ok else also for v in judged]
        vetted: list[tuple[Verdict | None, list[Verdict]]] = []
        for checks in zip(together, judged, strict=True):
            failed = [v for v in checks if not v.ok]
            vetted.append((next((v for v in failed if not self.overrides.allows(v)), None), failed))
        return vetted

    def enrol(self, name: str, candidates: Sequence[Candidate]) -> list[EnrolResult]:
        """Judge ``candidates`` as ``name`` and write those that pass in one transaction: one result each."""
        try:
            name = self.store.check_new_name(name)
        except EdgefaceError as exc:
            return [EnrolResult(name, c.label, Outcome.INVALID_NAME, str(exc)) for c in candidates]
        if not candidates:
            return []
        vectors = np.stack([np.asarray(c.template.vector, np.float32).reshape(-1) for c in candidates])
        results: list[EnrolResult | None] = [None] * len(candidates)
        passed: list[tuple[int, str, Verdict | None]] = []
        for i, (refusal, failed) in enumerate(self._vet(name, vectors)):
            if refusal is not None:
                hint = f" ({_FLAG.get(refusal.kind, '--force')} enrols it anyway)"
                detail = f"{candidates[i].label}: {refusal.problem}{hint}"
                results[i] = EnrolResult(name, candidates[i].label, _REFUSED[refusal.kind], detail, refusal.like)
            else:
                over = "; ".join(f"{_FLAG.get(v.kind, '--force')} over: {v.problem}" for v in failed)
                passed.append((i, over, failed[0] if failed else None))
        added = self._write(name, [candidates[i].template for i, _, _ in passed], [v for _, _, v in passed])
        for (i, over, verdict), new in zip(passed, added, strict=True):
            outcome = Outcome.ENROLLED if new else Outcome.ALREADY_ENROLLED
            like = verdict.like if verdict is not None else None
            results[i] = EnrolResult(name, candidates[i].label, outcome, overridden=over, like=like)
        return [r for r in results if r is not None]

    def _write(self, name: str, templates: list[NewTemplate], overridden: list[Verdict | None]) -> list[bool]:
        """Store ``templates`` (a dry run only works out which would be new); whether each was new."""
        if not templates:
            return []
        model = self.recognizer.model_id
        if self.dry_run:
            held = {
                t.photo_sha256 for r in self.store.records([name]) for t in r.templates if t.model_sha256 == model[1]
            }
            new = []
            for t in templates:
                new.append(t.photo_sha256 is None or t.photo_sha256 not in held)
                held.add(t.photo_sha256)
        else:
            new = [i is not None for i in self.store.add_templates(name, model, templates)]
        count = sum(new)
        if not count:
            return new
        self._vectors.setdefault(name, []).extend(
            np.asarray(t.vector, np.float32).reshape(-1) for t, n in zip(templates, new, strict=True) if n
        )
        self._vetter = None
        (self.extended if name in self._known else self.created).append(name)
        if not self.dry_run and self.audit is not None:
            kept = [(t, v) for t, v, n in zip(templates, overridden, new, strict=True) if n]
            self.audit.record_change(self._change(name, name not in self._known, kept))
        self._known.add(name)
        return new

    def _change(self, name: str, created: bool, added: list[tuple[NewTemplate, Verdict | None]]) -> Change:
        """The audit log's entry for templates added to ``name``: how many, from where, and any override."""
        sources = ", ".join(t.source or "?" for t, _ in added)
        forced = [v for _, v in added if v is not None]
        over = "".join(f"; {_FLAG.get(v.kind, '--force')} over: {v.problem}" for v in forced)
        best = max((v.like.similarity for v in forced if v.like is not None), default=0.0)
        what = "new person" if created else "more templates"
        return Change(
            "enrolled", name, f"{what}: {len(added)} template(s) from {sources}{over}", self.by, len(added), best
        )

    def photos(self, items: Iterable[tuple[str, Path]]) -> Iterator[EnrolResult]:
        """Enrol each (person, photo), yielding one result per photo.

        Consecutive photos of one person are read first and then judged and written together, so their
        results come when that person is done; give each person's photos together (:func:`scan_faces` does).
        """
        for name, group in itertools.groupby(items, key=lambda item: item[0]):
            read = [self._read_photo(name, photo) for _, photo in group]
            candidates = [r for r in read if isinstance(r, Candidate)]
            yield from (r for r in read if isinstance(r, EnrolResult))
            yield from self.enrol(name, candidates)

    def _read_photo(self, name: str, photo: Path) -> Candidate | EnrolResult:
        """A photo's template, or the result saying why it has none."""
        try:
            data = read_image_file(photo)
            image = decode_image(data, str(photo))
            vector, face = embed_image(self.recognizer, image, str(photo))
        except EnrolmentError as exc:
            return EnrolResult(name, photo, exc.outcome, str(exc))
        except EdgefaceError as exc:
            return EnrolResult(name, photo, Outcome.UNREADABLE, str(exc))
        spec = CropSpec.for_profile(self.recognizer.embedder.profile)
        jpeg = encode_jpeg(align(image, face, spec)) if self.store.keep_images else None
        digest = hashlib.sha256(data).hexdigest()
        return Candidate(photo, NewTemplate(vector[0], photo.name, digest, jpeg, face_quality(image, face)))


def enroll_photos(recognizer: Recognizer, store: Store, items: Iterable[tuple[str, Path]]) -> Iterator[EnrolResult]:
    """Enrol each (person, photo) with every check and no override (:meth:`Enrolment.photos`)."""
    yield from Enrolment(recognizer, store).photos(items)
