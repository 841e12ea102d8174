"""The frame pipeline: what became of every face in a frame, decided once.

``detect → size gate → track → pose and sharpness gates → align → embed → match → liveness``

:meth:`FramePipeline.process` gives one :class:`FaceOutcome` per detected face, in the detector's
order. Everything that shows or acts on a face reads these outcomes and never works them out again:
the door (:mod:`edgeface.door.controller`) counts the evidence, the live page draws every outcome
with its reason, ``bench speed`` times the stages and ``identify``/``inspect`` print them, so a
photo on the command line passes the same gates as a face at the door.

Semantics of an outcome:

* ``small`` — shorter than ``quality.min_face``: not tracked (``track`` None), never embedded.
* ``remembered`` — the door decided on this track less than :data:`REEMBED_SECONDS` ago
  (:meth:`FramePipeline.decided`): the face is not embedded again and its ``match`` is the identity
  the track remembers. It is no evidence: a cached identity counted again would make N-of-M meaningless.
* ``turned``, ``blurred`` — the pose and sharpness gates (:mod:`edgeface.vision.quality`): tracked,
  not embedded, no evidence.
* otherwise the face is embedded (``vector``) and matched (``match``). With a liveness check, each
  match that names an enrolled person is checked (a stranger is refused anyway, so nobody known at the
  door costs nothing): ``live`` it is evidence (``match.live`` True); ``spoof`` it is evidence too —
  of an attack: agreeing spoof frames make the door deny (``match.live`` False); ``liveness`` the
  check is still gathering frames, so this frame is no evidence yet. ``liveness_score`` is the model's
  score when it ran.

The pipeline's state is the tracker (ids across frames, remembered identities); a liveness check is
passed in through the small :class:`LivenessCheck` protocol, so vision never imports liveness.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, Protocol, TypeAlias

from edgeface.config import Config
from edgeface.values import Face, Frame, Image, Match, Vectors
from edgeface.vision.align import CropSpec, align
from edgeface.vision.quality import QualityGates, rejection
from edgeface.vision.recognize import MatchSettings, Recognizer
from edgeface.vision.track import TRACK_SECONDS, Tracker

log = logging.getLogger(__name__)

REEMBED_SECONDS = 1.0
"""A track identified and decided on is re-embedded at most this often."""

Reason: TypeAlias = Literal["small", "turned", "blurred", "remembered", "liveness", "spoof"]
"""Why a face's match is not a plain piece of evidence (see the module docstring)."""

StageTimer: TypeAlias = Callable[[str, float], None]
"""Told each stage's time in seconds: ``detect`` (with the gates and the tracker), ``align``, ``embed``,
``match`` and ``liveness``; a stage that did not run in a frame is not reported."""


class LivenessVerdict(Protocol):
    """One matched face's liveness in one frame."""

    @property
    def score(self) -> float: ...

    @property
    def live(self) -> bool | None:
        """True live, False a presentation attack, None not known yet."""


class LivenessCheck(Protocol):
    """A liveness stage: one verdict per (track, face) pair of one frame, in order."""

    def check(self, image: Image, ts: float, items: Sequence[tuple[int, Face]]) -> Sequence[LivenessVerdict]: ...


@dataclass(frozen=True)
class FaceOutcome:
    """What became of one detected face in one frame."""

    face: Face
    track: int | None = None
    """Its tracked face's id; None for a face too small to track."""
    match: Match | None = None
    """This frame's match, or the identity its track remembers; None when it was not embedded."""
    vector: Vectors | None = field(default=None, repr=False)
    """Its embedding (one row) when it was embedded in this frame."""
    evidence: bool = False
    """Whether the door counts this face's match in this frame (see the module docstring)."""
    reason: Reason | None = None
    """Why its match is not plain evidence, or why there is none; None for a plain piece of evidence."""
    liveness_score: float | None = None
    """The liveness model's score when it ran on this face."""


class FramePipeline:
    """Detect, gate, track, embed, match and check liveness; one instance per camera (it tracks faces)."""

    RELOADS: ClassVar[tuple[str, ...]] = ("match", "quality")
    """Config keys :meth:`apply` takes on while running."""

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        liveness: LivenessCheck | None = None,
        timer: StageTimer | None = None,
        reembed_seconds: float = REEMBED_SECONDS,
        track_seconds: float = TRACK_SECONDS,
    ) -> None:
        """``track_seconds``: how long a face may go unseen and keep its track (``decide.track_seconds``)."""
        self.recognizer = recognizer
        self.liveness = liveness
        """Run on faces that matched someone; None: no liveness check."""
        self.tracker = Tracker(max_age_seconds=track_seconds)
        self.reembed_seconds = reembed_seconds
        self._timer = timer
        self._fresh: dict[int, Match] = {}
        self._ts = 0.0

    def process(self, frame: Frame) -> list[FaceOutcome]:
        """Every face the detector finds in ``frame``, with what became of it, in the detector's order."""
        rec, image, ts = self.recognizer, frame.image, frame.ts
        clock = time.perf_counter
        started = clock()
        detected = rec.detector.detect(image)
        large = [rec.gates.large_enough(face) for face in detected]
        tracks = iter(self.tracker.update([face for face, big in zip(detected, large, strict=True) if big], ts))
        outcomes: list[FaceOutcome] = []
        fresh: list[int] = []  # indices into outcomes of the faces to embed
        for face, big in zip(detected, large, strict=True):
            if not big:
                outcomes.append(FaceOutcome(face, reason="small"))
                continue
            track = next(tracks)
            if (remembered := self.tracker.known(track, ts, self.reembed_seconds)) is not None:
                outcomes.append(FaceOutcome(face, track, remembered, reason="remembered"))
            elif (why := rejection(image, face, rec.gates)) is not None:
                outcomes.append(FaceOutcome(face, track, reason=why))
            else:
                fresh.append(len(outcomes))
                outcomes.append(FaceOutcome(face, track))
        self._time("detect", started)
        self._fresh, self._ts = {}, ts
        if fresh:
            self._embed(image, ts, outcomes, fresh)
        return outcomes

    def _embed(self, image: Image, ts: float, outcomes: list[FaceOutcome], fresh: list[int]) -> None:
        """Embed, match and check the faces at ``fresh`` (indices into ``outcomes``), in place."""
        rec, clock = self.recognizer, time.perf_counter
        started = clock()
        spec = CropSpec.for_profile(rec.embedder.profile)
        crops = [align(image, outcomes[i].face, spec) for i in fresh]
        aligned = self._time("align", started)
        vectors = rec.embedder.embed(crops)
        embedded = self._time("embed", aligned)
        matches = rec.match(vectors)
        self._time("match", embedded)
        for i, vector, found in zip(fresh, vectors, matches, strict=True):
            outcomes[i] = replace(outcomes[i], match=found, vector=vector, evidence=True)
        if self.liveness is not None:
            self._check_liveness(self.liveness, image, ts, outcomes, fresh)
        self._fresh = {
            o.track: o.match for o in (outcomes[i] for i in fresh) if o.track is not None and o.match is not None
        }

    def _check_liveness(
        self, check: LivenessCheck, image: Image, ts: float, outcomes: list[FaceOutcome], fresh: list[int]
    ) -> None:
        known = [i for i in fresh if (m := outcomes[i].match) is not None and m.person is not None]
        if not known:
            return
        started = time.perf_counter()
        items = [(t, outcomes[i].face) for i in known if (t := outcomes[i].track) is not None]
        verdicts = check.check(image, ts, items)
        self._time("liveness", started)
        for i, verdict in zip(known, verdicts, strict=True):
            outcome, live = outcomes[i], verdict.live
            assert outcome.match is not None
            reason: Reason | None = "liveness" if live is None else None if live else "spoof"
            outcomes[i] = replace(
                outcome,
                match=replace(outcome.match, live=live),
                evidence=live is not None,
                reason=reason,
                liveness_score=verdict.score,
            )

    def decided(self, tracks: Iterable[int]) -> None:
        """The door decided on these tracks in the frame just processed: each one that matched an enrolled
        person keeps that identity for ``reembed_seconds`` and is not embedded again meanwhile."""
        for track in tracks:
            found = self._fresh.get(track)
            if found is not None and found.person is not None:
                self.tracker.remember(track, found, self._ts)

    def forget_identities(self) -> None:
        """The gallery changed: every track keeps its id (and its evidence) but is embedded again."""
        # Not tracker.reset(): new track ids would throw away every face's N-of-M evidence (and with it its
        # liveness history), so whoever can send reloads could keep the door from ever deciding.
        self.tracker.forget_identities()

    def apply(self, cfg: Config) -> None:
        """Take on the live keys of ``cfg`` (:attr:`RELOADS`)."""
        rec, matching = self.recognizer, MatchSettings.from_config(cfg)
        if matching != rec.matching:
            rec.matching = matching
            log.info("match threshold now %s", rec.threshold_info.describe())
        rec.gates = QualityGates.from_config(cfg.quality)

    def _time(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        if self._timer is not None:
            self._timer(stage, now - since)
        return now
