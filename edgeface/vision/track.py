"""Tracking: a stable id for each face across frames, by box overlap.

The daemon needs two things from a tracker: the decide stage counts evidence
per face over several frames, so a face must keep its id while it moves a
little; and embedding is the dearest stage, so a face identified confidently a
moment ago need not be embedded again on every frame.

Semantics:

* ``update`` matches the frame's faces to the live tracks greedily, best IoU
  first; a pair is linked when its IoU is at least ``iou_threshold``. Faces left
  over start new tracks (ids count up from 1 and are never reused, so a stale id
  can never name a new face). A track not matched for more than
  ``max_age_seconds`` of frame time is dropped together with what it remembers.
  Greedy rather than optimal (Hungarian) assignment: a door camera sees a
  handful of faces, and with so few boxes the two almost never differ.
* ``remember`` stores the match a track was last embedded to, ``known`` hands it
  back while it is fresh. Only an accepted match (``person`` not None) is kept:
  remembering an unknown result forgets the identity, so a face whose
  recognition fails is embedded again rather than vouched for from before.

Times are frame timestamps; a timestamp earlier than the one remembered (the
wall clock stepped back) makes the memory stale rather than fresh for longer.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeface.values import Face, Match

log = logging.getLogger(__name__)

Boxes = npt.NDArray[np.float64]
"""N×4 boxes as x, y, width, height (the layout of ``Face.box``)."""


TRACK_SECONDS = 1.0
"""How long a face may go unseen and keep its track, by default (``decide.track_seconds``)."""


def box_iou(a: Boxes, b: Boxes) -> npt.NDArray[np.float64]:
    """Intersection over union of every box in ``a`` with every box in ``b``: an len(a)×len(b) matrix."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0:1], a[:, 1:2]
    ax2, ay2 = ax1 + a[:, 2:3], ay1 + a[:, 3:4]
    bx1, by1 = b[:, 0], b[:, 1]
    bx2, by2 = bx1 + b[:, 2], by1 + b[:, 3]
    inter_w = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0.0, None)
    inter_h = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0.0, None)
    inter = inter_w * inter_h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    # Degenerate (zero-area) boxes overlap nothing rather than dividing by zero.
    iou: npt.NDArray[np.float64] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


@dataclass
class _Track:
    """A live track's state; mutable because it changes on every frame the face is seen."""

    box: tuple[float, float, float, float]
    seen: float
    identity: Match | None = None
    identified: float = 0.0


class Tracker:
    """Greedy IoU tracker with a short memory of who each track is."""

    def __init__(self, iou_threshold: float = 0.3, max_age_seconds: float = TRACK_SECONDS) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], not {iou_threshold}")
        if max_age_seconds < 0.0:
            raise ValueError(f"max_age_seconds must be ≥ 0, not {max_age_seconds}")
        self.iou_threshold = iou_threshold
        self.max_age_seconds = max_age_seconds
        self._tracks: dict[int, _Track] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        """How many tracks are live."""
        return len(self._tracks)

    def update(self, faces: Sequence[Face], ts: float) -> list[int]:
        """The track id of each face, in the order given; call once per frame, even with no faces."""
        self._tracks = {tid: t for tid, t in self._tracks.items() if ts - t.seen <= self.max_age_seconds}
        live = list(self._tracks)
        ids: list[int | None] = [None] * len(faces)
        if faces and live:
            ious = box_iou(
                np.array([f.box for f in faces], np.float64),
                np.array([self._tracks[tid].box for tid in live], np.float64),
            )
            taken: set[int] = set()
            # Best overlap first; the stable sort breaks ties by face order, then by the older track.
            for flat in np.argsort(-ious, axis=None, kind="stable"):
                f, t = divmod(int(flat), len(live))
                if ious[f, t] < self.iou_threshold:
                    break
                if ids[f] is None and t not in taken:
                    ids[f] = live[t]
                    taken.add(t)
        out: list[int] = []
        for face, matched in zip(faces, ids, strict=True):
            if matched is None:
                tid = next(self._ids)
                self._tracks[tid] = _Track(face.box, ts)
                log.debug("track %d started at %s", tid, face.box)
            else:
                tid = matched
                self._tracks[tid].box, self._tracks[tid].seen = face.box, ts
            out.append(tid)
        return out

    def remember(self, track_id: int, match: Match, ts: float) -> None:
        """Record that the track was embedded at ``ts`` to ``match``; an unaccepted match forgets the identity."""
        track = self._tracks.get(track_id)
        if track is None:
            raise KeyError(f"no live track {track_id}; remember a match in the frame its id was handed out")
        if match.person is None:
            track.identity = None
        else:
            track.identity, track.identified = match, ts

    def known(self, track_id: int, ts: float, max_age: float = 1.0) -> Match | None:
        """The track's remembered match if it was embedded at most ``max_age`` seconds before ``ts``, else None."""
        track = self._tracks.get(track_id)
        if track is None or track.identity is None:
            return None
        # A negative age means the clock stepped back: treat the memory as stale, not as fresh.
        return track.identity if 0.0 <= ts - track.identified <= max_age else None

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so old ids stay dead)."""
        self._tracks.clear()

    def forget_identities(self) -> None:
        """Keep every track and its id, but forget who each was (the gallery changed): each is embedded again."""
        for track in self._tracks.values():
            track.identity = None
