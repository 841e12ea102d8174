"""What a folder camera shows: a still person, an empty room, and a change of scene while it runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from tests.support.data import STRANGER


def still_frames(folder: Path, photo: Path = STRANGER, count: int = 4) -> Path:
    """A folder source showing one photo frame after frame, as a still person before a camera."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shutil.copy(photo, folder / f"{i:03d}.jpg")
    return folder


def empty_scene(folder: Path) -> Path:
    """A folder source showing an empty grey room: no faces, so no events of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "000.jpg"), np.full((480, 640, 3), 90, np.uint8))
    return folder


def show(folder: Path, scene: Path) -> None:
    """Replace what a folder camera shows; it picks the change up at its next pass over the folder."""
    staged = folder.with_name(folder.name + ".new")
    shutil.copytree(scene, staged)
    old = folder.with_name(folder.name + ".old")
    folder.rename(old)
    staged.rename(folder)
    shutil.rmtree(old)
