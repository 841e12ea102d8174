"""Matching: probe embeddings × enrolled templates → the best person per probe.

Pure numpy. A gallery keeps every template of every person as rows of one
matrix, grouped by person, so a whole frame's probes are scored in a single
matrix product and reduced to one similarity per person with ``reduceat``.
:meth:`Gallery.centroids` turns it into one row per person (the renormalised
mean of their templates), which scores several templates better than the
nearest one (lfw-dev, 3 photos each, FAR 1e-3: TAR 0.942 against 0.940, and
0.977 against 0.946 at 100 people).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeface.values import Match, Vectors


@dataclass(frozen=True)
class Gallery:
    """Enrolled templates: rows of ``vectors`` grouped by person, ``starts[i]`` the first row of ``names[i]``."""

    names: tuple[str, ...]
    vectors: Vectors
    starts: npt.NDArray[np.intp]
    templates: int = -1
    """How many enrolled templates stand behind the rows (-1: one per row); what a stranger is compared with."""

    @classmethod
    def build(cls, templates: dict[str, Vectors], dim: int) -> Gallery:
        """Gallery from person → their template rows (people with no rows are left out)."""
        people = sorted(name for name, rows in templates.items() if len(rows))
        if not people:
            return cls.empty(dim)
        blocks = [np.asarray(templates[name], np.float32).reshape(-1, dim) for name in people]
        starts = np.cumsum([0] + [len(b) for b in blocks[:-1]]).astype(np.intp)
        return cls(tuple(people), np.ascontiguousarray(np.concatenate(blocks)), starts)

    @classmethod
    def empty(cls, dim: int) -> Gallery:
        return cls((), np.zeros((0, dim), np.float32), np.zeros(0, np.intp))

    def __len__(self) -> int:
        return len(self.names)

    @property
    def template_count(self) -> int:
        return len(self.vectors) if self.templates < 0 else self.templates

    def centroids(self) -> Gallery:
        """One row per person: the renormalised mean of their templates (the template count is kept)."""
        if not len(self.names):
            return self
        sums = np.add.reduceat(self.vectors, self.starts, axis=0)
        norms = np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        rows = np.ascontiguousarray(sums / norms, dtype=np.float32)
        return Gallery(self.names, rows, np.arange(len(self.names), dtype=np.intp), self.template_count)

    @property
    def owners(self) -> npt.NDArray[np.intp]:
        """The person index of every template row."""
        counts = np.diff(np.append(self.starts, len(self.vectors)))
        return np.repeat(np.arange(len(self.names)), counts)

    def person_similarities(self, probes: Vectors) -> npt.NDArray[np.float32]:
        """P×people matrix: each probe's similarity to each person's nearest template."""
        sims = probes @ self.vectors.T
        return np.maximum.reduceat(sims, self.starts, axis=1)


def best_people(
    per_person: npt.NDArray[np.float32], names: tuple[str, ...], threshold: float, margin: float = 0.0
) -> list[Match]:
    """Turn a probes×people similarity matrix into one Match per probe.

    Accepted when the best similarity is ≥ threshold and leads the runner-up by
    ≥ margin. Columns set to -inf are treated as absent people.
    """
    if per_person.shape[1] == 0:
        return [Match(None, -1.0, None, -1.0) for _ in range(len(per_person))]
    k = min(2, per_person.shape[1])
    # argpartition finds the top two in linear time; only those two are then ordered.
    top = np.argpartition(-per_person, k - 1, axis=1)[:, :k]
    results = []
    for row, pair in zip(per_person, top, strict=True):
        cand = pair[np.argsort(-row[pair])]
        best = float(row[cand[0]])
        if not np.isfinite(best):
            results.append(Match(None, -1.0, None, -1.0))
            continue
        second = float(row[cand[1]]) if k > 1 and np.isfinite(row[cand[1]]) else -1.0
        name = names[cand[0]]
        accepted = best >= threshold and best - second >= margin
        results.append(Match(name if accepted else None, best, name, second))
    return results


def match(probes: Vectors, gallery: Gallery, threshold: float, margin: float = 0.0) -> list[Match]:
    """Best enrolled person for each probe (see :func:`best_people`)."""
    if len(gallery) == 0:
        return [Match(None, -1.0, None, -1.0) for _ in range(len(probes))]
    return best_people(gallery.person_similarities(probes), gallery.names, threshold, margin)
