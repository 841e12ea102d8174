"""Whether a face may be enrolled under a name: the checks every way into the store runs.

Pure functions on embeddings, so that a photo, a camera shot, a face the door saw and a fleet
record are judged alike, and the benchmark (:mod:`edgeface.bench.enrolment`) measures exactly them.

* **Adding to a person** (the name holds templates): the face must match that person at the
  *verification* threshold, the similarity one impostor comparison beats with probability
  :data:`VERIFY_FAR` (1e-4) under the embedder's impostor tail, for the person's template count
  (:func:`edgeface.vision.threshold.tail_threshold`). Otherwise it is refused, naming whom it looks
  like if anyone (``looks like bill_clinton (0.71), not meryl_streep (0.18)``). A face that passes
  for its person but matches someone else better, at that person's threshold, is refused too.
* **A new name**: a face that would pass for an enrolled person, either at the door (its match
  threshold for the whole gallery) or as a photo of them here (their verification threshold), is
  refused: ``already enrolled as meryl_streep (0.83)``. The door's threshold alone grows with the
  gallery (0.53 at 854 people for MobileFaceNet) and would let a second photo of someone enrolled
  become a second person in one case of five on lfw-dev; the lower of the two catches 95 %.
* **Photos of one name in one command** must agree with each other: each must match the mean of
  the others at the verification threshold. The odd one out is refused; two that disagree are both.

The person's side is scored as the door scores it (``match.score``: their centroid, or their
nearest template), against a :class:`~edgeface.vision.match.Gallery` in that form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgeface.values import Vectors
from edgeface.vision.match import Gallery
from edgeface.vision.threshold import ThresholdPolicy, tail_threshold

VERIFY_FAR = 1e-4
"""False-accept rate of one comparison at which a face counts as a photo of an enrolled person."""


@dataclass(frozen=True)
class Likeness:
    """How close a face comes to one enrolled person."""

    person: str
    similarity: float

    def __str__(self) -> str:
        return f"{self.person} ({self.similarity:.2f})"


@dataclass(frozen=True)
class Verdict:
    """One face's judgement: refused when ``problem`` says why; ``like`` is whom it resembles most."""

    problem: str | None
    like: Likeness | None
    kind: str = ""
    """``not_them`` (adding to a person), ``already_enrolled`` (a new name), ``disagree`` (one command's photos)."""

    @property
    def ok(self) -> bool:
        return self.problem is None


ACCEPTED = Verdict(None, None)


@dataclass(frozen=True)
class Rules:
    """The thresholds of the checks: ``verify(n)`` for a person of n templates, the door's for the gallery."""

    verify: Callable[[int], float]
    door: float

    @classmethod
    def from_policy(cls, policy: ThresholdPolicy, templates: int) -> Rules:
        """The door's threshold for ``templates`` enrolled templates; verification from the impostor tail.

        Without a tail there is no false-accept rate to hold, and the door's fixed threshold verifies too.
        """
        tail = policy.tail
        if tail is None:
            return cls(lambda n: policy.for_gallery(n).value, policy.for_gallery(templates).value)
        return cls(lambda n: tail_threshold(tail, VERIFY_FAR, n), policy.for_gallery(templates).value)


class Vetter:
    """The checks against one gallery (the enrolled templates of the embedder in use) and its rules."""

    def __init__(self, gallery: Gallery, scored: Gallery, rules: Rules) -> None:
        """``gallery``: every template; ``scored``: the same people as the door scores them (centroids or all)."""
        self.rules = rules
        self._scored = scored
        counts = np.diff(np.append(gallery.starts, len(gallery.vectors)))
        self._templates = dict(zip(gallery.names, (int(c) for c in counts), strict=True))

    def templates(self, name: str) -> int:
        return self._templates.get(name, 0)

    def likeness(self, vector: Vectors) -> list[Likeness]:
        """Every enrolled person by similarity to ``vector``, the closest first."""
        if not len(self._scored):
            return []
        sims = self._scored.person_similarities(np.asarray(vector, np.float32).reshape(1, -1))[0]
        order = np.argsort(-sims)
        return [Likeness(self._scored.names[i], float(sims[i])) for i in order]

    def _passes(self, like: Likeness) -> bool:
        """Whether a face passes for ``like.person``, at the door or as a photo of them."""
        return like.similarity >= min(self.rules.door, self.rules.verify(self.templates(like.person)))

    def addition(self, name: str, vector: Vectors) -> Verdict:
        """May ``vector`` join ``name``'s templates (see the module docstring)?"""
        ranked = self.likeness(vector)
        own = next((like for like in ranked if like.person == name), None)
        if own is None:
            return self.new_name(name, vector)
        others = [like for like in ranked if like.person != name]
        rival = next(
            (like for like in others if like.similarity >= self.rules.verify(self.templates(like.person))), None
        )
        needed = self.rules.verify(self.templates(name))
        if own.similarity >= needed and (rival is None or rival.similarity <= own.similarity):
            return Verdict(None, own)
        if rival is not None:
            return Verdict(f"looks like {rival}, not {own}", rival, "not_them")
        count = self.templates(name)
        return Verdict(
            f"does not match {name}'s {count} template(s): similarity {own.similarity:.2f}, "
            f"{needed:.2f} needed (false-accept rate {VERIFY_FAR:g})",
            others[0] if others else own,
            "not_them",
        )

    def new_name(self, name: str, vector: Vectors) -> Verdict:
        """May ``vector`` be enrolled as the new person ``name``: is it nobody enrolled already?"""
        for like in self.likeness(vector):
            if like.person != name and self._passes(like):
                return Verdict(f"already enrolled as {like}", like, "already_enrolled")
        return ACCEPTED

    def judge(self, name: str, vector: Vectors) -> Verdict:
        """:meth:`addition` when ``name`` holds templates, else :meth:`new_name`."""
        return self.addition(name, vector) if self.templates(name) else self.new_name(name, vector)


def conflicts(vetter: Vetter, incoming: Sequence[tuple[str, Vectors]]) -> dict[str, Verdict]:
    """Of faces arriving under names from elsewhere (a fleet's records: name, template rows), those that pass
    for someone the vetter holds under another name: name → the first refusing verdict (one face, one name)."""
    found: dict[str, Verdict] = {}
    for name, rows in incoming:
        for row in np.asarray(rows, np.float32).reshape(len(rows), -1):
            verdict = vetter.new_name(name, row)
            if not verdict.ok:
                found[name] = verdict
                break
    return found


def similarity_to_rest(vectors: Vectors) -> list[float]:
    """Each row's similarity to the renormalised mean of the other rows (one row: nothing to compare, 1.0)."""
    rows = np.asarray(vectors, np.float32)
    if len(rows) < 2:
        return [1.0] * len(rows)
    total = rows.sum(axis=0)
    out = []
    for row in rows:
        rest = total - row
        out.append(float(row @ rest / max(float(np.linalg.norm(rest)), 1e-12)))
    return out


def agreement(name: str, vectors: Vectors, verify: Callable[[int], float]) -> list[Verdict]:
    """Whether photos of one name agree (see the module docstring): one verdict per row of ``vectors``.

    The photo furthest from the mean of the others is refused while it falls short of the
    verification threshold, until the rest agree; when two are left that disagree, both are refused.
    """
    rows = np.asarray(vectors, np.float32)
    verdicts: list[Verdict] = [ACCEPTED] * len(rows)
    kept = list(range(len(rows)))
    while len(kept) > 1:
        sims = similarity_to_rest(rows[kept])
        needed = verify(len(kept) - 1)
        worst = int(np.argmin(sims))
        if sims[worst] >= needed:
            break
        if len(kept) == 2:
            problem = f"the photos of {name} do not agree: similarity {sims[worst]:.2f}, {needed:.2f} needed"
            for i in kept:
                verdicts[i] = Verdict(problem, None, "disagree")
            break
        problem = f"does not look like the other photos of {name}: similarity {sims[worst]:.2f}, {needed:.2f} needed"
        verdicts[kept[worst]] = Verdict(problem, None, "disagree")
        del kept[worst]
    return verdicts
