"""Open-set scoring for ``bench accuracy``: every probe against a gallery, at any gallery size.

Pure numpy over one table of similarities (probes × enrolled people), so a gallery of any subset of
the people is scored by picking columns, without embedding anything again. The protocol, for the
members M of a gallery:

* genuine attempts: the probes of members; correct when their best member is themselves and at or
  above the threshold, misidentified when someone else is accepted;
* impostor attempts: every ``unknown/`` probe, every probe of a labelled person who is not a
  member, and every member's probe with their own column masked (leave-own-identity-out); a
  false accept when anyone is accepted.

With every labelled person a member this is exactly the top-level protocol of ``bench accuracy``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeface.models.profiles import ImpostorTail
from edgeface.vision.scores import threshold_for_fmr
from edgeface.vision.threshold import fit_tail, tail_threshold

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ScoreTable:
    sims: Floats
    """Probes × enrolled people (the scored gallery's columns)."""
    probe_people: tuple[str | None, ...]
    """Each probe's labelled person; None for ``unknown/`` photos."""
    columns: dict[str, int]
    """Enrolled person → column (people whose enrolment failed have none)."""
    templates: npt.NDArray[np.intp]
    """Templates behind each column."""

    def subset(self, probes: npt.NDArray[np.bool_], people: Sequence[str]) -> ScoreTable:
        """The table of some probes against some people only."""
        keep = sorted(self.columns[p] for p in people if p in self.columns)
        names = {col: name for name, col in self.columns.items()}
        return ScoreTable(
            sims=self.sims[np.flatnonzero(probes)][:, keep],
            probe_people=tuple(p for p, kept in zip(self.probe_people, probes, strict=True) if kept),
            columns={names[col]: i for i, col in enumerate(keep)},
            templates=self.templates[keep],
        )


@dataclass(frozen=True)
class Outcome:
    genuine: int
    correct: int
    misidentified: int
    impostor: int
    false_accepts: int

    @property
    def tar(self) -> float:
        return self.correct / self.genuine if self.genuine else 0.0

    @property
    def far(self) -> float:
        return self.false_accepts / self.impostor if self.impostor else 0.0


@dataclass(frozen=True)
class _Attempts:
    genuine_best: Floats
    genuine_lead: Floats
    """Best minus runner-up among the members (for the margin rule)."""
    genuine_right: npt.NDArray[np.bool_]
    """Whether the best member is the probe's own person."""
    impostor_best: Floats
    impostor_lead: Floats


def _top_two(rows: Floats) -> tuple[Floats, Floats, npt.NDArray[np.intp]]:
    if rows.shape[1] == 0:
        empty = np.full(len(rows), -np.inf, np.float32)
        return empty, empty, np.full(len(rows), -1, np.intp)
    best_col = np.argmax(rows, axis=1)
    best = rows[np.arange(len(rows)), best_col]
    if rows.shape[1] == 1:
        return best, np.full(len(rows), -np.inf, np.float32), best_col
    second = np.partition(rows, -2, axis=1)[:, -2]
    return best, second, best_col


def _attempts(table: ScoreTable, members: Sequence[str]) -> tuple[int, _Attempts]:
    """Genuine and impostor attempts of a gallery of ``members``; also how many genuine probes there are."""
    member_set = set(members)
    cols = np.array(sorted(table.columns[m] for m in member_set if m in table.columns), np.intp)
    sub = table.sims[:, cols]
    position = {int(c): i for i, c in enumerate(cols)}
    own = np.array(
        [position.get(table.columns.get(p or "", -1), -1) if p in member_set else -1 for p in table.probe_people],
        np.intp,
    )
    is_member = np.array([p in member_set for p in table.probe_people], bool)
    best, second, best_col = _top_two(sub[is_member])
    right = (best_col == own[is_member]) & (own[is_member] >= 0)
    masked = sub.copy()
    rows = np.flatnonzero(own >= 0)
    masked[rows, own[rows]] = -np.inf
    imp_best, imp_second, _ = _top_two(masked)
    attempts = _Attempts(best, best - second, right, imp_best, imp_best - imp_second)
    return int(is_member.sum()), attempts


def _decide(genuine: int, a: _Attempts, threshold: float, margin: float) -> Outcome:
    accepted = (a.genuine_best >= threshold) & (a.genuine_lead >= margin)
    false_accepts = int(((a.impostor_best >= threshold) & (a.impostor_lead >= margin)).sum())
    return Outcome(
        genuine=genuine,
        correct=int((accepted & a.genuine_right).sum()),
        misidentified=int((accepted & ~a.genuine_right).sum()),
        impostor=len(a.impostor_best),
        false_accepts=false_accepts,
    )


def outcome(table: ScoreTable, members: Sequence[str], threshold: float, margin: float = 0.0) -> Outcome:
    """The gallery of ``members`` at one threshold."""
    genuine, attempts = _attempts(table, members)
    return _decide(genuine, attempts, threshold, margin)


def gallery_study(
    table: ScoreTable,
    people: Sequence[str],
    size: int,
    *,
    far_target: float,
    threshold_for: Callable[[int], float],
    repetitions: int,
    rng: np.random.Generator,
    margin: float = 0.0,
) -> dict[str, object]:
    """Galleries of ``size`` random people (all of them once if there are not more): the embedding's TAR at
    ``far_target`` (threshold chosen on the impostor attempts) and the product's own decision at the threshold
    ``threshold_for(templates)`` gives; means over the repetitions."""
    runs = 1 if size >= len(people) else repetitions
    rows: list[dict[str, float]] = []
    for _ in range(runs):
        members = list(people) if size >= len(people) else list(rng.choice(list(people), size, replace=False))
        genuine, attempts = _attempts(table, members)
        oracle_t = threshold_for_fmr(attempts.impostor_best, far_target)
        oracle = _decide(genuine, attempts, oracle_t, margin)
        templates = int(sum(table.templates[table.columns[m]] for m in members if m in table.columns))
        product_t = threshold_for(templates)
        product = _decide(genuine, attempts, product_t, margin)
        rows.append(
            {
                "templates": templates,
                "genuine_attempts": genuine,
                "impostor_attempts": product.impostor,
                "tar_at_far": oracle.tar,
                "threshold_at_far": oracle_t,
                "misidentified": product.misidentified,
                "threshold": product_t,
                "tar": product.tar,
                "far": product.far,
                "false_accepts": product.false_accepts,
            }
        )
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    counts = ("templates", "genuine_attempts", "impostor_attempts", "misidentified", "false_accepts")
    return {
        "size": min(size, len(people)),
        "repetitions": runs,
        **{k: (round(v, 1) if k in counts else round(v, 4)) for k, v in mean.items()},
    }


def holdout_study(
    table: ScoreTable,
    template_sims: Floats,
    template_owners: Sequence[str],
    people: Sequence[str],
    *,
    target_far: float,
    sizes: Sequence[int],
    seed: int,
    repetitions: int,
    margin: float = 0.0,
) -> dict[str, object]:
    """Fit the impostor tail on half of the people and judge the threshold it gives on the other half.

    People are split by identity (``seed``), strangers from ``unknown/`` at random: nobody in the
    half that is measured contributed to the tail. ``template_sims`` is probes × enrolled templates
    (the tail is a property of single templates), ``template_owners`` names each template's person.
    """
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(sorted(people)))
    fit_people, test_people = set(order[: len(order) // 2]), set(order[len(order) // 2 :])
    stranger_half = rng.random(len(table.probe_people)) < 0.5
    in_fit = np.array(
        [p in fit_people if p is not None else bool(s) for p, s in zip(table.probe_people, stranger_half, strict=True)]
    )
    owners = np.asarray(template_owners, dtype=object)
    fit_columns = np.array([o in fit_people for o in owners])
    probe_owner = np.asarray(table.probe_people, dtype=object)
    impostor = template_sims[np.ix_(in_fit, fit_columns)]
    own = probe_owner[in_fit][:, None] == owners[fit_columns][None, :]
    tail: ImpostorTail = fit_tail(impostor[~own], f"half of the people ({len(fit_people)}), seed {seed}")
    test = table.subset(~in_fit, sorted(test_people))
    members = sorted(test_people)
    templates = int(sum(test.templates))
    threshold = tail_threshold(tail, target_far, templates)
    whole = outcome(test, members, threshold, margin)
    galleries = [
        gallery_study(
            test,
            members,
            size,
            far_target=target_far,
            threshold_for=lambda n: tail_threshold(tail, target_far, n),
            repetitions=repetitions,
            rng=rng,
            margin=margin,
        )
        for size in sizes
    ]
    return {
        "seed": seed,
        "fit_people": len(fit_people),
        "test_people": len(test_people),
        "tail": tail.model_dump(),
        "target_far": target_far,
        "threshold": round(threshold, 4),
        "tar": round(whole.tar, 4),
        "far": round(whole.far, 5),
        "false_accepts": whole.false_accepts,
        "impostor_attempts": whole.impostor,
        "galleries": galleries,
    }
