"""The faces the door saw but could not name: the last few, in memory only, to enrol from.

Fed every frame's outcomes (:class:`edgeface.vision.pipeline.FaceOutcome`), it keeps one entry per
visit (tracked face) that was embedded and matched nobody: its best view so far (by
:func:`~edgeface.vision.quality.face_quality`), as the embedder's aligned crop and vector, with the
closest enrolled person and similarity. A visit the door recognises in any frame leaves (it was
somebody's); a visit any frame of which the liveness check called an attack leaves and never comes
back, so a face that failed liveness is never offered for enrolment. The door checks liveness only on
faces that matched someone (:mod:`edgeface.vision.pipeline`), so with liveness on every view kept
here is checked too (``live``): a visit whose view fails leaves like an attack.

At most ``faces.recent`` visits are kept, the oldest dropped first; nothing is written to disk, so
the crops go with the daemon, unless ``faces.on_disk`` asks for a private file
(:mod:`edgeface.daemon.recentdisk`). ``edgeface faces recent`` and ``edgeface enroll NAME --recent ID``
reach them through the control socket (:mod:`edgeface.daemon.control`).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from edgeface.config.faces import FacesConfig
from edgeface.models.profiles import EmbedderProfile
from edgeface.values import Face, Image, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.pipeline import FaceOutcome
from edgeface.vision.quality import face_quality

if TYPE_CHECKING:
    from edgeface.daemon.recentdisk import RecentFile

log = logging.getLogger(__name__)

SAVE_EVERY = 5.0
"""With ``faces.on_disk``, the file is rewritten at most this often while the faces change."""

_REMEMBERED_TRACKS = 1000
"""Tracks remembered as recognised or attacking, so their later frames are not taken for new visits."""


@dataclass(frozen=True)
class RecentFace:
    """One visit's best view."""

    id: int
    first_seen: float
    last_seen: float
    """Epoch seconds."""
    candidate: str | None
    """The closest enrolled person, not accepted (None with nobody enrolled)."""
    similarity: float
    quality: float
    vector: Vectors = field(repr=False)
    crop: Image = field(repr=False)
    """The aligned crop the vector was made from."""

    def summary(self) -> dict[str, object]:
        """What ``faces recent --json`` lists (no biometric data)."""
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.last_seen, timezone.utc)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "first_seen": round(self.first_seen, 3),
            "similarity": round(self.similarity, 4),
            "candidate": self.candidate,
            "quality": round(self.quality, 3),
        }


class RecentFaces:
    """The last ``capacity`` unknown visits (see the module docstring); safe to read from another thread."""

    def __init__(
        self,
        capacity: int,
        crop: Callable[[Image, Face], Image],
        clock: Callable[[], float] = time.time,
        *,
        disk: RecentFile | None = None,
        live: Callable[[Image, Face], bool] | None = None,
    ) -> None:
        """``crop`` cuts a face as the embedder sees it; ``disk`` (``faces.on_disk``) keeps them over a restart;
        ``live``: the door's liveness check, which every view must pass to be kept (None: liveness off)."""
        self.capacity = capacity
        self._crop, self._clock, self._disk, self._live = crop, clock, disk, live
        self._faces: OrderedDict[int, RecentFace] = OrderedDict()  # track → its visit, oldest first
        self._settled: OrderedDict[int, None] = OrderedDict()  # tracks recognised or caught attacking
        self._lock = threading.Lock()
        kept = disk.load(clock())[-capacity:] if disk is not None and capacity else []
        for face in kept:  # a face from before the restart belongs to no track of this run: keyed below 0
            self._faces[-face.id] = face
        self._ids = itertools.count(max((f.id for f in kept), default=0) + 1)
        self._dirty, self._saved = False, clock()

    @classmethod
    def from_config(
        cls,
        cfg: FacesConfig,
        profile: EmbedderProfile,
        disk: RecentFile | None,
        live: Callable[[Image, Face], bool] | None = None,
    ) -> RecentFaces | None:
        """Kept as the embedder crops them; None when ``faces.recent`` is 0."""
        if not cfg.recent:
            return None
        spec = CropSpec.for_profile(profile)
        return cls(cfg.recent, lambda image, face: align(image, face, spec), disk=disk, live=live)

    def close(self) -> None:
        """Write the file one last time, if there is one and anything changed."""
        with self._lock:
            self._save(force=True)

    def _save(self, force: bool = False) -> None:
        if self._disk is None or not self._dirty:
            return
        now = self._clock()
        if force or now - self._saved >= SAVE_EVERY:
            self._disk.save(list(self._faces.values()), now)
            self._dirty, self._saved = False, now

    def observe(self, image: Image, outcomes: Sequence[FaceOutcome]) -> None:
        """Take one frame's outcomes (the loop's thread)."""
        if not self.capacity:
            return
        now = self._clock()
        with self._lock:
            for o in outcomes:
                if o.track is None or o.track in self._settled:
                    continue
                attack = o.reason == "spoof" or (o.match is not None and o.match.live is False)
                if attack or (o.match is not None and o.match.person is not None):
                    self._settle(o.track)
                elif o.vector is not None and o.match is not None:
                    self._keep(o.track, image, o, now)
            self._save()

    def _settle(self, track: int) -> None:
        self._dirty |= self._faces.pop(track, None) is not None
        self._settled[track] = None
        while len(self._settled) > _REMEMBERED_TRACKS:
            self._settled.popitem(last=False)

    def _keep(self, track: int, image: Image, o: FaceOutcome, now: float) -> None:
        assert o.vector is not None and o.match is not None
        quality = face_quality(image, o.face)
        held = self._faces.get(track)
        if held is not None and held.quality >= quality:
            self._faces[track] = replace(held, last_seen=now)
            return
        if self._live is not None and not self._live(image, o.face):
            log.debug("recent faces: track %d failed the liveness check; never offered for enrolment", track)
            self._settle(track)
            return
        self._dirty = True
        vector = np.asarray(o.vector, np.float32).reshape(-1).copy()
        crop = self._crop(image, o.face)
        if held is not None:  # a better view of the same visit: same id, same place in line
            self._faces[track] = replace(
                held, last_seen=now, candidate=o.match.candidate, similarity=o.match.similarity,
                quality=quality, vector=vector, crop=crop,
            )  # fmt: skip
            return
        face_id = next(self._ids)
        self._faces[track] = RecentFace(face_id, now, now, o.match.candidate, o.match.similarity, quality, vector, crop)
        log.debug("recent face %d: a visit nobody was recognised in (closest %s)", face_id, o.match.candidate)
        while len(self._faces) > self.capacity:
            self._faces.popitem(last=False)

    def faces(self) -> list[RecentFace]:
        """The kept visits, newest first."""
        with self._lock:
            return sorted(self._faces.values(), key=lambda f: f.id, reverse=True)

    def take(self, ids: Sequence[int]) -> list[RecentFace]:
        """The visits of ``ids``, in that order; KeyError naming the first id not held."""
        by_id = {f.id: f for f in self.faces()}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise KeyError(missing[0])
        return [by_id[i] for i in ids]

    def forget(self, ids: Sequence[int]) -> None:
        """Drop the visits of ``ids`` (enrolled now: they are somebody)."""
        with self._lock:
            for track, face in list(self._faces.items()):
                if face.id in ids:
                    self._settle(track)
            self._save(force=True)
