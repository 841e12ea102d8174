"""What a folder camera shows: a still person, a crowd, an empty room, and a change of scene while it runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from tests.support.data import STRANGER, VIDEO

STREET = VIDEO / "facenet_pytorch_street.mp4"
"""Pedestrians walking towards the camera, several faces a frame (1920×1080, 25 fps)."""
CROWD_FRAMES = (20, 50)
"""Frames of :data:`STREET` with five to seven faces each, in other places: at 960 px wide frame 20 has a large
face turned away and one under ``quality.min_face``."""


def still_frames(folder: Path, photo: Path = STRANGER, count: int = 4) -> Path:
    """A folder source showing one photo frame after frame, as a still person before a camera."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shutil.copy(photo, folder / f"{i:03d}.jpg")
    return folder


def crowd_photos(folder: Path, frames: tuple[int, ...] = CROWD_FRAMES, width: int = 960) -> list[Path]:
    """Frames of the street clip saved as JPEG photos ``width`` px wide, in the clip's order."""
    folder.mkdir(parents=True, exist_ok=True)
    video = cv2.VideoCapture(str(STREET))
    photos: list[Path] = []
    try:
        for index in range(max(frames) + 1):
            ok, image = video.read()
            assert ok, f"{STREET}: no frame {index}"
            if index in frames:
                size = (width, width * image.shape[0] // image.shape[1])
                small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                photos.append(folder / f"crowd-{index:03d}.jpg")
                assert cv2.imwrite(str(photos[-1]), small)
    finally:
        video.release()
    return photos


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
