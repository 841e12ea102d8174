"""Presentation-attack photo sets with a manifest (``../shared/pad-dev``): who is in each photo, and the split.

Frames of one capture session are strongly correlated, so every figure that is
resampled or split works on **subjects**, never on single photos. A manifest
row names the photo's source and subject; a source that does not know its
subjects (``unk``) is taken as one subject, the conservative reading (its photos
never land on both sides of a split). Photos are found in the manifest by their
SHA-256, so the folder layout they are benchmarked from does not matter.

The development/held-out split (:data:`DEV_SUBJECTS`) was drawn once with
:func:`draw_split` and seed :data:`SPLIT_SEED` over pad-dev's subjects, for
``bench liveness --half``; the levels are measured leave-one-source-out instead
(:mod:`edgeface.liveness.levels`).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeface.errors import ConfigError

log = logging.getLogger(__name__)

MANIFEST = "manifest.csv"
UNKNOWN_SUBJECT = "unk"
SPLIT_SEED = 13
DEV_SUBJECTS = frozenset({"apfol", "nuaa0001", "nuaa0003", "nuaa0004", "nuaa0008", "silent"})
"""pad-dev's development half; the held-out half is every other subject (nuaa0002/5/6/7, pyis)."""
HALVES = ("dev", "held-out")


@dataclass(frozen=True)
class Provenance:
    """What a manifest says about one photo."""

    source: str
    subject: str
    """The subject, or the source when the source does not know its subjects."""
    attack_type: str

    @property
    def species(self) -> str | None:
        """The attack species (None: bona fide), as ISO/IEC 30107-3 rates them: ``print``, ``phone replay``
        or ``screen replay`` (laptop, monitor, TV, or a screen of unstated kind)."""
        kind = self.attack_type.lower()
        if kind.startswith("bona fide"):
            return None
        if kind.startswith("print"):  # pad-dev's "print/screen photo (sample)" too: printed samples
            return "print"
        return "phone replay" if "phone screen" in kind else "screen replay"

    @property
    def capture(self) -> str:
        """How the photo was taken: ``frame`` (a whole webcam frame, what a door camera sees), ``crop`` (a
        face cut out of one) or ``video`` (a frame of a recorded video)."""
        kind = self.attack_type.lower()
        if "face crop" in kind or "(sample)" in kind:
            return "crop"
        return "video" if "video" in kind else "frame"


CAPTURES = ("frame", "crop", "video")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Manifest:
    """A pad-dev style ``manifest.csv``: photo SHA-256 → :class:`Provenance`."""

    def __init__(self, path: Path, rows: dict[str, Provenance]) -> None:
        self.path = path
        self.rows = rows

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                table = list(csv.DictReader(handle))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the manifest ({exc.strerror})") from exc
        rows: dict[str, Provenance] = {}
        for number, row in enumerate(table, start=2):
            try:
                subject = row["subject"] if row["subject"] != UNKNOWN_SUBJECT else row["source"]
                rows[row["sha256"]] = Provenance(row["source"], subject, row["attack_type"])
            except (KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: needs source, subject, attack_type and sha256 columns") from exc
        return cls(path, rows)

    def find(self, photo: Path) -> Provenance | None:
        try:
            return self.rows.get(_sha256(photo))
        except OSError:
            return None  # an unreadable photo is reported by the bench when it loads it

    @property
    def subjects(self) -> list[str]:
        return sorted({p.subject for p in self.rows.values()})


def find_manifest(folders: Iterable[Path]) -> Path | None:
    """A ``manifest.csv`` in a benchmarked folder or up to two folders above it (pad-dev: ``spoof/print``)."""
    for folder in folders:
        for candidate in [folder, *folder.resolve().parents][:3]:
            if (candidate / MANIFEST).is_file():
                return candidate / MANIFEST
    return None


def draw_split(subjects_by_source: dict[str, Sequence[str]], seed: int = SPLIT_SEED) -> frozenset[str]:
    """The development half: half of each source's subjects; sources of one subject are dealt out alternately.

    How :data:`DEV_SUBJECTS` was drawn (kept so the draw can be checked, not to redraw it).
    """
    rng = np.random.default_rng(seed)
    dev: list[str] = []
    singles: list[str] = []
    for source in sorted(subjects_by_source):
        subjects = sorted(subjects_by_source[source])
        if len(subjects) == 1:
            singles += subjects
            continue
        drawn = [str(s) for s in rng.permutation(subjects)]
        dev += drawn[: len(drawn) // 2]
    dev += [str(s) for s in rng.permutation(singles)][0::2]
    return frozenset(dev)


def half_of(subject: str) -> str:
    return HALVES[0] if subject in DEV_SUBJECTS else HALVES[1]
