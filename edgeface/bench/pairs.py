"""``edgeface bench pairs``: LFW-style pair verification (the published "View 2" protocol).

The pairs file is LFW's ``pairs.txt`` format: a first line ``<folds> <n>``, then for each fold ``n``
matched lines ``name i j`` (two photos of one person) followed by ``n`` mismatched lines
``name1 i name2 j``. Photo ``i`` of ``name`` is ``ROOT/name/name_<iiii>.jpg`` (LFW's naming), or
else the i-th photo of ``ROOT/name/`` in sorted order. Each photo's face is the one the photo is
about (:mod:`edgeface.vision.pick`); a pair with a photo that has no face counts as "different".

Accuracy is 10-fold (or however many folds the file has): each fold is scored at the threshold that
is most accurate on the other folds, so no fold is scored with a threshold tuned on itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.values import Vectors
from edgeface.vision.images import is_photo, load_image
from edgeface.vision.pick import primary_face
from edgeface.vision.recognize import Recognizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    fold: int
    first: tuple[str, int]
    second: tuple[str, int]
    same: bool


@dataclass(frozen=True)
class PairsReport:
    model: str
    folds: int
    pairs: int
    no_face: int
    """Pairs in which a photo had no face (scored as different)."""
    accuracy: float
    """Mean over folds of the accuracy at the threshold chosen on the other folds."""
    accuracy_std: float
    threshold: float
    """The mean of the chosen thresholds."""
    fold_accuracy: list[float]

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "folds": self.folds,
            "pairs": self.pairs,
            "no_face": self.no_face,
            "accuracy": round(self.accuracy, 4),
            "accuracy_std": round(self.accuracy_std, 4),
            "threshold": round(self.threshold, 4),
            "fold_accuracy": [round(a, 4) for a in self.fold_accuracy],
        }


def parse_pairs(text: str, source: str) -> list[Pair]:
    """The pairs of a ``pairs.txt``; ConfigError naming the line at fault."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    try:
        folds, per_fold = (int(v) for v in lines[0])
    except (IndexError, ValueError):
        raise ConfigError(f"{source}:1: expected '<folds> <pairs per fold>'") from None
    if len(lines) - 1 != folds * 2 * per_fold:
        raise ConfigError(f"{source}: {folds} folds of 2 × {per_fold} pairs need {folds * 2 * per_fold} lines")
    pairs = []
    for number, fields in enumerate(lines[1:], start=2):
        fold, within = divmod(number - 2, 2 * per_fold)
        same = within < per_fold
        try:
            if same and len(fields) == 3:
                pairs.append(Pair(fold, (fields[0], int(fields[1])), (fields[0], int(fields[2])), True))
            elif not same and len(fields) == 4:
                pairs.append(Pair(fold, (fields[0], int(fields[1])), (fields[2], int(fields[3])), False))
            else:
                raise ValueError
        except ValueError:
            kind = "name i j" if same else "name1 i name2 j"
            raise ConfigError(
                f"{source}:{number}: expected a {'matched' if same else 'mismatched'} pair, {kind}"
            ) from None
    return pairs


def photo_path(root: Path, name: str, index: int) -> Path:
    lfw = root / name / f"{name}_{index:04d}.jpg"
    if lfw.is_file():
        return lfw
    folder = root / name
    photos = sorted(p for p in folder.iterdir() if is_photo(p)) if folder.is_dir() else []
    if not 1 <= index <= len(photos):
        raise ConfigError(f"{root}: no photo {index} of {name} ({len(photos)} photos in {folder})")
    return photos[index - 1]


def _best_threshold(scores: npt.NDArray[np.float32], same: npt.NDArray[np.bool_]) -> float:
    candidates = np.unique(scores)
    accuracy = [((scores >= t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def run_pairs(
    recognizer: Recognizer,
    pairs_file: Path,
    root: Path,
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda it: it,
) -> PairsReport:
    try:
        pairs = parse_pairs(pairs_file.read_text(encoding="utf-8"), str(pairs_file))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pairs_file}: cannot read the pairs file ({exc})") from exc
    if not pairs:
        raise ConfigError(f"{pairs_file}: no pairs")
    photos = sorted({photo_path(root, *key) for p in pairs for key in (p.first, p.second)})
    vectors: dict[Path, Vectors | None] = {}
    for photo in progress(photos):
        try:
            image = load_image(photo)
        except EdgefaceError as exc:
            log.warning("%s", exc)
            vectors[photo] = None
            continue
        face = primary_face(recognizer.detect(image), image.shape)
        vectors[photo] = None if face is None else recognizer.embed(image, [face])[0]
    scores, missing = [], 0
    for pair in pairs:
        a, b = vectors[photo_path(root, *pair.first)], vectors[photo_path(root, *pair.second)]
        missing += a is None or b is None
        scores.append(-1.0 if a is None or b is None else float(a @ b))
    score = np.asarray(scores, np.float32)
    same = np.array([p.same for p in pairs])
    fold = np.array([p.fold for p in pairs])
    folds = int(fold.max()) + 1
    accuracy, thresholds = [], []
    for k in range(folds):
        train, test = fold != k, fold == k
        t = _best_threshold(score[train], same[train]) if folds > 1 else _best_threshold(score, same)
        thresholds.append(t)
        accuracy.append(float(((score[test] >= t) == same[test]).mean()))
    return PairsReport(
        model=recognizer.embedder.profile.name,
        folds=folds,
        pairs=len(pairs),
        no_face=missing,
        accuracy=float(np.mean(accuracy)),
        accuracy_std=float(np.std(accuracy)),
        threshold=float(np.mean(thresholds)),
        fold_accuracy=accuracy,
    )
