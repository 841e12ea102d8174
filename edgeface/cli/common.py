"""Helpers shared by the command modules: progress bars, the store, argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from edgeface.config import Config

if TYPE_CHECKING:
    from edgeface.storage.people import Store
    from edgeface.vision.pipeline import FaceOutcome

T = TypeVar("T")
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
CommandFunc = Callable[[argparse.Namespace, Config], int]


def progress(items: Sequence[T], desc: str) -> Iterable[T]:
    # tqdm hides itself when stderr is not a terminal, so logs and pipes stay clean.
    from tqdm import tqdm

    bar: Iterable[T] = tqdm(items, desc=desc, unit="photo", disable=None if len(items) > 1 else True, leave=False)
    return bar


def note(text: str) -> None:
    """A line on stderr that never lands on a progress bar's line (tqdm clears the bar and redraws it below)."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


def open_store(cfg: Config) -> Store:
    from edgeface.storage.people import Store

    return Store(cfg.store_path, keep_images=cfg.store.keep_images)


def face_row(outcome: FaceOutcome) -> dict[str, object]:
    """One face as ``identify --json`` and ``inspect --json`` print it: ``decision`` is ``known``, ``unknown``
    or ``skipped`` (failed a quality gate the door applies; ``reason`` says which, and it has no match)."""
    face, match = outcome.face, outcome.match
    row: dict[str, object] = {
        "box": [round(v, 1) for v in face.box],
        "score": round(face.score, 3),
        "landmarks": [[round(float(v), 1) for v in pt] for pt in face.landmarks],
        "person": match.person if match else None,
        "candidate": match.candidate if match else None,
        "similarity": round(match.similarity, 4) if match else None,
        "decision": "skipped" if match is None else "known" if match.person else "unknown",
    }
    if match is None:
        row["reason"] = outcome.reason
    return row


def face_line(outcome: FaceOutcome, unknown_below: float) -> str:
    """One face as ``identify`` and ``inspect`` print it: who (or ``stranger``), the similarity, ``closest: NAME``
    for a stranger too close to call, and the box.

    The closest name is shown only where the door itself would hesitate: at ``decide.unknown_below`` or above,
    a face that matches nobody is no evidence of a stranger. Further down, a name on a stranger's line would
    read as a match.
    """
    from edgeface.vision.annotate import REASONS

    match = outcome.match
    box = "box [" + ", ".join(str(round(v)) for v in outcome.face.box) + "]"
    if match is None:
        reason = REASONS.get(outcome.reason or "", outcome.reason)
        return f"{'-':<24} skipped: {reason}  {box}"
    closest = f"  closest: {match.candidate}" if not match.person and match.similarity >= unknown_below else ""
    return f"{match.person or 'stranger':<24} similarity {match.similarity:.3f}{closest}  {box}"


def recognised(outcomes: Sequence[FaceOutcome]) -> list[FaceOutcome]:
    """The faces ``identify`` and ``inspect`` report: all but those too small to track (as the door ignores them)."""
    return [o for o in outcomes if o.track is not None]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def frame_size(text: str) -> tuple[int, int] | None:
    if text == "native":
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT (e.g. 640x480) or native, not {text!r}") from None
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError(f"frame size {text} is too small")
    return width, height
