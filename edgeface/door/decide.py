"""Decide: per-track matches over several frames → at most one decision per visit.

A single frame's match is not enough to open a door: a blurred frame or a
look-alike angle can clear the threshold once. The decider asks for agreement
over several frames of the same tracked face, then stays quiet while the
person is still in front of the camera.

Semantics (``DecideConfig`` names the settings):

* **Frames and slots.** Each ``observe`` call is one frame. Every track the
  decider knows gets one slot per frame: the frame's match for that track, or a
  *miss* when the frame had no observation for it (face lost, too small, not
  embedded). The last ``window`` slots of a track are kept (M).
* **Agreement, N of M.** When a track's match in this frame names person P,
  P is decided once at least ``required`` of the track's last ``window`` slots
  name P *and* each of them lies within ``window_seconds`` of this frame (frame
  time). Misses and other people's frames take up slots but never agree, so
  they push old agreeing frames out. Decisions are only ever made on an
  agreeing frame. Unknown frames (``person`` None) agree with each other the
  same way and lead to an ``unknown`` decision. An unmatched frame whose
  similarity is at least ``unknown_below`` counts as a miss: too close to an
  enrolled person to call a stranger.
* **Similarity** of a decision is the *mean* over its agreeing frames, not the
  max: one lucky frame should not flatter a visit, and the mean is the figure to
  look at when tuning the threshold. ``frames`` is how many frames agreed
  (always ≥ ``required``, ≤ ``window``).
* **Cooldown per person.** After a granted or denied decision for P, further
  agreement on P — from any track — decides nothing for ``cooldown_seconds``;
  a person who is still at the door after that gets a new decision. At most
  one decision per person per frame, even with a zero cooldown (two tracks of
  one person, e.g. a face and its reflection, must not unlock twice).
* **Unknown** decisions are rate-limited per track (``unknown_cooldown_seconds``).
  A track that has reached agreement on a person is not also reported unknown
  within that time: a known face seen at a bad angle is not a stranger. The
  daemon then folds them per door and per face (:mod:`edgeface.door.strangers`),
  since a track lasts only as long as the tracker keeps one face.
* **Liveness.** A match carries ``live`` when the liveness stage ran on it.
  Frames agree only if they also agree on liveness: live frames of P with live
  frames of P, spoof frames with spoof frames, unchecked frames (``live`` None,
  e.g. liveness off) with each other. Agreement on spoof frames of P gives
  ``denied`` with reason ``spoof``, under the same per-person cooldown, and never
  a grant; a stray frame of the other kind takes up a slot like a miss.
* **Schedules.** People listed in ``schedules`` may enter only inside one of
  their windows (listed with no window: never); people not listed, always. A
  window applies on its ``days``, from ``start`` to ``end`` inclusive, to the
  second; with ``start`` > ``end`` it wraps past midnight into the next day
  (``fri 22:00–06:00`` covers Saturday 03:00, not Friday 03:00). Agreement
  outside every window gives ``denied`` with reason ``schedule``, under the same
  per-person cooldown, and never a grant. The fleet's per-person rules (a record's door list and
  schedule, see :meth:`Decider.restrict`) are windows of the same kind, checked as well: a person
  must be inside a window of both, where both list them.

Time comes from three places, each for what it is good at:

* the frame's ``ts`` orders evidence and bounds ``window_seconds``: it is the
  capture time, so a slow frame does not stretch the window; if it goes
  backwards (the wall clock was stepped) the evidence gathered so far is dropped;
* ``clock`` (monotonic by default) times the cooldowns, which must survive
  wall-clock steps — a Raspberry Pi has no RTC and NTP may step its clock by
  hours after boot, which on the wall clock would lock a person out for as long;
* ``local_time`` (``datetime.now`` by default) gives the local weekday and time
  of day for schedules.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dtime

from edgeface.config import DecideConfig, Window
from edgeface.values import Decision, EventType, Match

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in ``datetime.weekday()`` order, as schedules spell them."""

Observation = tuple[int, Match]
"""A track id and the match of its face in one frame."""


@dataclass(frozen=True)
class AccessWindow:
    """One schedule window with days as weekday numbers (Monday = 0)."""

    days: frozenset[int]
    start: dtime
    end: dtime

    @classmethod
    def from_config(cls, window: Window) -> AccessWindow:
        return cls(frozenset(DAYS.index(d) for d in window.days), window.start, window.end)

    def contains(self, when: datetime) -> bool:
        """Whether local time ``when`` falls inside the window."""
        # Whole seconds: the default end 23:59:59 must also cover 23:59:59.5.
        t = when.time().replace(microsecond=0)
        day = when.weekday()
        if self.start <= self.end:
            return day in self.days and self.start <= t <= self.end
        if t >= self.start:  # evening part of a window that opens today
            return day in self.days
        if t <= self.end:  # morning part of a window that opened yesterday
            return (day - 1) % 7 in self.days
        return False


@dataclass(frozen=True)
class _Slot:
    ts: float
    match: Match | None
    """None for a frame in which the track had no observation."""


class Decider:
    """N-of-M agreement per track, cooldowns and schedules; see the module docstring for the rules."""

    def __init__(
        self,
        settings: DecideConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        local_time: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._clock = clock
        self._local_time = local_time
        self._tracks: dict[int, deque[_Slot]] = {}
        self._person_decided: dict[str, float] = {}
        self._track_unknown: dict[int, float] = {}
        self._last_ts: float | None = None
        self._restricted: dict[str, tuple[AccessWindow, ...]] = {}
        self._apply(settings)

    def _apply(self, settings: DecideConfig) -> None:
        self._settings = settings
        self._schedules = {
            person: tuple(AccessWindow.from_config(w) for w in windows)
            for person, windows in settings.schedules.items()
        }

    @property
    def settings(self) -> DecideConfig:
        return self._settings

    def reset(self, settings: DecideConfig | None = None) -> None:
        """Drop all gathered evidence and, if given, adopt new settings (a config reload).

        Cooldowns are kept: they are on the monotonic clock and stay valid, and
        clearing them would let a reload unlock the door twice for one visit.
        """
        if settings is not None:
            self._apply(settings)
        self._tracks.clear()
        self._last_ts = None

    def restrict(self, rules: dict[str, list[Window]]) -> None:
        """Adopt this door's per-person rules from the people store (none listed: never); kept across resets."""
        self._restricted = {person: tuple(AccessWindow.from_config(w) for w in ws) for person, ws in rules.items()}

    def allowed(self, person: str) -> bool:
        """Whether the person's schedule, and this door's rules for them, let them in now."""
        now = self._local_time()
        return all(
            any(w.contains(now) for w in rules[person])
            for rules in (self._schedules, self._restricted)
            if person in rules
        )

    def observe(self, ts: float, observations: Sequence[Observation]) -> list[Decision]:
        """Take one frame's matches (at most one per track) and return the decisions it completes."""
        frame: dict[int, Match] = {}
        cfg = self._settings
        for track, match in observations:
            if track in frame:
                raise ValueError(f"track {track} is observed twice in the frame at {ts}")
            if match.person is None and match.similarity >= cfg.unknown_below:
                continue  # too close to someone enrolled to call a stranger: a miss, not evidence
            frame[track] = match
        if self._last_ts is not None and ts < self._last_ts:
            log.warning("frame time went back by %.3f s; dropping the evidence gathered so far", self._last_ts - ts)
            self._tracks.clear()
        self._last_ts = ts
        now = self._clock()
        self._expire_cooldowns(now)

        for track, slots in self._tracks.items():
            if track not in frame:
                slots.append(_Slot(ts, None))
        for track, match in frame.items():
            self._tracks.setdefault(track, deque(maxlen=cfg.window)).append(_Slot(ts, match))
        # A track whose every match is too old can never agree again: forget it, so memory stays bounded.
        self._tracks = {
            track: slots
            for track, slots in self._tracks.items()
            if any(s.match is not None and ts - s.ts <= cfg.window_seconds for s in slots)
        }

        decisions: list[Decision] = []
        for track, match in frame.items():
            agreeing = [
                s.match
                for s in self._tracks[track]
                if s.match is not None
                and s.match.person == match.person
                and s.match.live == match.live
                and ts - s.ts <= cfg.window_seconds
            ]
            if len(agreeing) < cfg.required:
                continue
            similarity = sum(m.similarity for m in agreeing) / len(agreeing)
            if match.person is None:
                decision = self._unknown(track, now, similarity, len(agreeing))
            else:
                decision = self._person(match.person, track, now, similarity, len(agreeing), spoof=match.live is False)
            if decision is not None:
                log.info(
                    "%s %s on track %d: %d frames, similarity %.3f%s",
                    decision.type.value,
                    decision.person or "face",
                    track,
                    decision.frames,
                    decision.similarity,
                    f" ({decision.reason})" if decision.reason else "",
                )
                decisions.append(decision)
        return decisions

    def _person(
        self, person: str, track: int, now: float, similarity: float, frames: int, *, spoof: bool = False
    ) -> Decision | None:
        # This track is someone we know, whether or not an event follows.
        self._track_unknown[track] = now
        # Cooldowns expire only at the start of a frame, so this also stops a second
        # track of the same person deciding again in this frame, even with a zero cooldown.
        if person in self._person_decided:
            log.debug("%s on track %d: in cooldown", person, track)
            return None
        self._person_decided[person] = now
        if spoof:  # a picture of P: refused whatever P's schedule, and never a grant
            return Decision(EventType.DENIED, person, similarity, frames, reason="spoof", track=track)
        if self.allowed(person):
            return Decision(EventType.GRANTED, person, similarity, frames, track=track)
        return Decision(EventType.DENIED, person, similarity, frames, reason="schedule", track=track)

    def _unknown(self, track: int, now: float, similarity: float, frames: int) -> Decision | None:
        if track in self._track_unknown:
            return None
        self._track_unknown[track] = now
        return Decision(EventType.UNKNOWN, None, similarity, frames, track=track)

    def _expire_cooldowns(self, now: float) -> None:
        # A negative elapsed time means an injected clock went backwards; ending the
        # cooldown then costs at most one extra event, keeping it could lock someone out.
        cfg = self._settings
        self._person_decided = {p: t for p, t in self._person_decided.items() if 0.0 <= now - t < cfg.cooldown_seconds}
        self._track_unknown = {
            k: t for k, t in self._track_unknown.items() if 0.0 <= now - t < cfg.unknown_cooldown_seconds
        }
