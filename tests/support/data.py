"""Paths to the read-only shared data (models, photos, clips) beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(__import__("os").environ.get("EDGEFACE_SHARED", ROOT.parent / "shared"))
FACES = SHARED / "faces"
SHARED_MODELS = SHARED / "models"
VIDEO = SHARED / "video"


@pytest.fixture(scope="session")
def shared() -> Path:
    assert FACES.is_dir(), f"{SHARED} is missing: tests need ../shared beside the checkout (see README)"
    return SHARED
