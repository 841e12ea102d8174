"""Paths to the read-only shared data (models, photos, clips) beside the checkout, and to the repo's demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("EDGEFACE_SHARED", ROOT.parent / "shared"))
FACES = SHARED / "faces"
MISSING = f"{SHARED} is missing: tests need ../shared beside the checkout (see docs/development.md)"
SHARED_MODELS = SHARED / "models"
VIDEO = SHARED / "video"
LFW_DEV = SHARED / "lfw-dev"
"""854 people and 2,080 strangers: open-set recognition at door scale (the impostor tails were fitted here)."""
LIVENESS = SHARED / "liveness"
"""Upstream MiniFASNet samples: ``real/`` (bona fide) and ``spoof/`` (attacks)."""

STRANGER = FACES / "unknown" / "3.jpg"
"""A face nobody enrols: still frames of it make an unknown event."""
DEMO_CLIP = ROOT / "config" / "demo" / "hamilton_clip.mp4"
DEMO_FACES = ROOT / "config" / "demo" / "faces"
LIN = DEMO_FACES / "lin_manuel_miranda.jpg"
"""An enrolled face of the demo: still frames of this photo are granted."""


def labelled_faces() -> tuple[dict[str, list[Path]], list[Path]]:
    """../shared/faces: each person's photos, sorted by name, and the strangers of ``unknown/``.

    Test modules call it at import, so a missing ../shared must fail collection with the same one line as
    the ``shared`` fixture, not a bare FileNotFoundError."""
    if not FACES.is_dir():
        raise FileNotFoundError(MISSING)
    people = {
        d.name: sorted(p for p in d.iterdir() if p.suffix == ".jpg") for d in sorted(FACES.iterdir()) if d.is_dir()
    }
    return people, people.pop("unknown")


@pytest.fixture(scope="session")
def shared() -> Path:
    assert FACES.is_dir(), MISSING
    return SHARED
