"""``faces.on_disk``: the recent faces also kept in a file, so that they outlive a restart. Off by default.

The file is ``recent_faces.npz`` in the state directory, 0600 like the store: at most ``faces.recent``
faces (crops and embeddings are biometric data), rewritten whole at most every
:data:`~edgeface.daemon.recent.SAVE_EVERY` seconds while they change, and when the daemon stops.
Faces last seen longer ago than ``store.image_retention_days`` are dropped when the file is read and
at every write, as the store's own face crops are. With ``faces.on_disk`` off, a file left from before
is deleted at start.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np

from edgeface.config import Config
from edgeface.daemon.recent import RecentFace
from edgeface.storage.fsperm import private_dir, write_private

log = logging.getLogger(__name__)

FILE_NAME = "recent_faces.npz"
_FIELDS = ("id", "first_seen", "last_seen", "similarity", "quality")


class RecentFile:
    """Reads and writes the recent faces' file (see the module docstring)."""

    def __init__(self, path: Path, retention_seconds: float) -> None:
        self.path, self.retention = path, retention_seconds

    def load(self, now: float | None = None) -> list[RecentFace]:
        """The faces in the file still within the retention period, oldest first; none when there is no file."""
        if not self.path.exists():
            return []
        try:
            with np.load(self.path, allow_pickle=False) as data:
                numbers = data["numbers"]
                names = [str(n) or None for n in data["candidates"]]
                faces = [
                    RecentFace(int(n[0]), float(n[1]), float(n[2]), name, float(n[3]), float(n[4]), vector, crop)
                    for n, name, vector, crop in zip(numbers, names, data["vectors"], data["crops"], strict=True)
                ]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: unreadable, starting without the recent faces in it (%s)", self.path, exc)
            return []
        return self._fresh(faces, now)

    def save(self, faces: list[RecentFace], now: float | None = None) -> None:
        faces = self._fresh(faces, now)
        if not faces:
            self.delete()
            return
        buffer = io.BytesIO()
        np.savez(
            buffer,
            numbers=np.array([[getattr(f, k) for k in _FIELDS] for f in faces], np.float64),
            candidates=np.array([f.candidate or "" for f in faces]),
            vectors=np.stack([f.vector for f in faces]),
            crops=np.stack([f.crop for f in faces]),
        )
        private_dir(self.path.parent)
        write_private(self.path, buffer.getvalue())

    def delete(self) -> None:
        if self.path.exists():
            self.path.unlink()

    def _fresh(self, faces: list[RecentFace], now: float | None) -> list[RecentFace]:
        cutoff = (time.time() if now is None else now) - self.retention
        return [f for f in faces if f.last_seen >= cutoff]


def recent_file(cfg: Config) -> RecentFile | None:
    """The file ``faces.on_disk`` asks for; None when it is off, after deleting one left from before."""
    disk = RecentFile(cfg.state_dir / FILE_NAME, cfg.store.image_retention_days * 86_400)
    if cfg.faces.on_disk:
        return disk
    if disk.path.exists():
        disk.delete()
        log.warning("deleted %s: faces.on_disk is false, so the recent faces stay in memory", disk.path)
    return None
