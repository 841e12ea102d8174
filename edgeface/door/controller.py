"""The door controller: the frame pipeline's outcomes and remote commands in; events and relay moves out.

It owns everything that happens once faces are recognised: the decider (N of M, cooldowns,
schedules: :mod:`edgeface.door.decide`), the stranger gate (:mod:`edgeface.door.strangers`), the
rate limits, the relay and the event recorder. It runs on the daemon's loop thread only, which is
thus the one thread that moves the relay (apart from the stall guard, which can only lock it).

Audit first: every decision and every remote unlock is recorded through the recorder (the outbox,
fsynced, first) *before* the relay moves. If it cannot be written (the state directory is full or
read-only) ``record`` raises: the door does not open and the daemon exits non-zero with one error
line, so the service manager restarts it rather than run a door without an audit trail.

Strangers: unknown decisions pass the stranger gate first (one report per door per
``decide.stranger_cooldown_seconds``, none for a stranger already reported who is still around);
each folded one counts in ``rate_limited_total{what="stranger"}`` and in the next report's ``suppressed``.

Guards: decisions and remote unlocks are rate-limited (``daemon.decisions_per_minute``,
``mqtt.remote_unlock.per_minute``), and so are remote LOCKs (:data:`LOCKS_PER_MINUTE`).

Remote LOCK (Home Assistant's *Lock*; unsigned, as Home Assistant cannot sign) ends a remote
unlock at once, but never cuts a face grant's pulse short: anyone who may publish could otherwise
shorten every grant to nothing while the audit log and Home Assistant say ``granted``. A LOCK that
arrives during a face grant's pulse is refused (the door locks when that pulse ends), one beyond
the rate limit is dropped, and each LOCK the door acts on is one journal line, so a flood of them
costs at most :data:`LOCKS_PER_MINUTE` lines a minute plus the rate limit's own two.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeAlias

from edgeface.config import Config, DecideConfig, Window
from edgeface.door.commands import Command, LockCommand, ReloadCommand, UnlockCommand
from edgeface.door.decide import Decider
from edgeface.door.ports import EventSink
from edgeface.door.ratelimit import RateLimit
from edgeface.door.relay import Relay
from edgeface.door.strangers import StrangerGate
from edgeface.values import Decision, DoorState, Event, EventType, Face, Frame, Image, Vectors

if TYPE_CHECKING:
    from edgeface.vision.pipeline import FaceOutcome

log = logging.getLogger(__name__)

LOCKS_PER_MINUTE = 12
"""Remote LOCKs acted on per minute; more are dropped (a LOCK can only end a remote unlock)."""

LockResult: TypeAlias = Literal["ended", "already locked", "face grant"]
"""What a remote LOCK did: ended a remote unlock, found the door locked, or met a face grant's pulse."""


class Recorder(Protocol):
    """Where events are recorded: durably first, then counted, audited and shown (:mod:`edgeface.daemon.events`)."""

    def record(
        self,
        kind: EventType,
        person: str | None,
        similarity: float,
        frames: int,
        reason: str | None = None,
        *,
        suppressed: int | None = None,
    ) -> Event:
        """Store the event durably, then fan it out; raises if it cannot be stored."""
        ...

    def note_lock(self, result: LockResult) -> None:
        """A remote LOCK the door acted on, for the journal (it is no event)."""
        ...


@dataclass(frozen=True)
class DoorSettings:
    """The config keys the controller reads, taken once per (re)load so that no frame reads the config."""

    decide: DecideConfig
    pulse_seconds: float
    remote_seconds: float
    """A remote unlock's length when it names none: the pulse, at most ``mqtt.remote_unlock.max_seconds``."""
    snapshot: bool
    decisions_per_minute: int
    unlocks_per_minute: int
    evidence_rules: tuple[object, ...]
    """What makes a frame evidence (``decide``, ``match``, ``quality``): the decider restarts when it changes."""

    @classmethod
    def from_config(cls, cfg: Config) -> DoorSettings:
        return cls(
            decide=cfg.decide,
            pulse_seconds=cfg.relay.pulse_seconds,
            remote_seconds=min(cfg.relay.pulse_seconds, cfg.mqtt.remote_unlock.max_seconds),
            snapshot=cfg.mqtt.snapshot,
            decisions_per_minute=cfg.daemon.decisions_per_minute,
            unlocks_per_minute=cfg.mqtt.remote_unlock.per_minute,
            evidence_rules=(cfg.decide, cfg.match, cfg.quality),
        )


class DoorController:
    """Decide on the pipeline's outcomes, act on commands, record every event, drive the relay."""

    RELOADS: ClassVar[tuple[str, ...]] = (
        "decide",
        "daemon.decisions_per_minute",
        "mqtt.remote_unlock.per_minute",
        "mqtt.snapshot",
        "relay.pulse_seconds",
    )
    """Config keys :meth:`apply` takes on while running."""

    def __init__(
        self,
        cfg: Config,
        *,
        relay: Relay,
        recorder: Recorder,
        events: EventSink,
        threshold: Callable[[], float],
        snapshot: Callable[[Image, Face], bytes],
        on_reload: Callable[[], None] = lambda: None,
        on_limited: Callable[[str], None] = lambda what: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``threshold()``: the match threshold in force (the similarity from which two faces are one person, for
        the stranger gate); ``snapshot(image, face)``: the JPEG of a decision's face; ``on_reload``: a
        ``cmd/reload`` arrived; ``on_limited(what)``: a rate limit refused something (for the metrics)."""
        self.relay = relay
        self.recorder = recorder
        self.events = events
        self.settings = settings = DoorSettings.from_config(cfg)
        self.decider = Decider(settings.decide, clock=clock)
        self.strangers = StrangerGate(
            settings.decide.stranger_cooldown_seconds, settings.decide.stranger_memory_seconds, clock=clock
        )
        self.decision_limit = RateLimit("recognition decision", settings.decisions_per_minute, clock=clock)
        self.unlock_limit = RateLimit("remote unlock", settings.unlocks_per_minute, clock=clock)
        self.lock_limit = RateLimit("remote lock", LOCKS_PER_MINUTE, clock=clock)
        self._threshold = threshold
        self._snapshot = snapshot
        self.on_reload = on_reload
        self._on_limited = on_limited
        self._clock = clock
        self._face_grant_until = -math.inf
        self._present = False

    # -- faces ---------------------------------------------------------------------------------------------------

    def observe(self, frame: Frame, outcomes: Sequence[FaceOutcome]) -> list[Decision]:
        """One frame's outcomes: report presence, decide, then act on each decision; returns the decisions."""
        present = any(o.track is not None for o in outcomes)
        if present != self._present:
            self._present = present
            self.events.publish_presence(present)
        evidence = {o.track: o for o in outcomes if o.evidence and o.track is not None and o.match is not None}
        decisions = self.decider.observe(frame.ts, [(t, o.match) for t, o in evidence.items() if o.match])
        for decision in decisions:
            # A decision is made on a frame in which its track was evidence: its face and vector are here.
            seen = evidence.get(decision.track) if decision.track is not None else None
            if decision.type is EventType.UNKNOWN and not self._admit_stranger(seen.vector if seen else None):
                continue
            self.act(decision, (frame.image, seen.face) if seen is not None else None)
        return decisions

    def _admit_stranger(self, vector: Vectors | None) -> bool:
        """Whether an unknown decision is to be reported; a folded one is counted (see the module docstring)."""
        if self.strangers.admit(vector, self._threshold()):
            return True
        self._on_limited("stranger")
        log.debug("stranger folded into the next report (%d so far)", self.strangers.folded)
        return False

    def act(self, decision: Decision, seen: tuple[Image, Face] | None = None) -> None:
        """Record a decision durably, then, for a grant, open the door (within the rate limit).

        An unknown event carries the count of the stranger decisions folded since the last one; ``seen``
        (the frame and face decided on) becomes the snapshot with ``mqtt.snapshot``.
        """
        if not self.decision_limit.allow():
            self._on_limited("decision")
            log.debug("decision dropped by the rate limit: %s %s", decision.type.value, decision.person or "-")
            if decision.type is EventType.UNKNOWN:
                self.strangers.withdraw()
            return
        suppressed = self.strangers.take_folded() if decision.type is EventType.UNKNOWN else None
        # Audit first: if the event cannot be stored this raises, and the door stays shut.
        self.recorder.record(
            decision.type, decision.person, decision.similarity, decision.frames, decision.reason, suppressed=suppressed
        )
        if decision.type is EventType.GRANTED:
            self._face_grant_until = self._clock() + self.settings.pulse_seconds
            self.relay.pulse(self.settings.pulse_seconds)
        if self.settings.snapshot and seen is not None:
            # In memory and on the broker only: a face crop is biometric data (store.keep_images is for enrolment).
            self.events.publish_snapshot(self._snapshot(*seen))

    # -- commands ------------------------------------------------------------------------------------------------

    def handle(self, command: Command) -> None:
        """Act on one remote command (already parsed and verified by whoever received it)."""
        if isinstance(command, UnlockCommand):
            self._unlock(command)
        elif isinstance(command, LockCommand):
            self._lock()
        elif isinstance(command, ReloadCommand):
            self.on_reload()

    def _unlock(self, command: UnlockCommand) -> None:
        if not self.unlock_limit.allow():
            self._on_limited("remote unlock")
            return
        seconds = command.seconds if command.seconds is not None else self.settings.remote_seconds
        event = self.recorder.record(EventType.GRANTED, None, 0.0, 0, "remote")
        log.info("remote unlock for %.1f s id=%s", seconds, event.id)
        self.relay.pulse(seconds)

    def _lock(self) -> None:
        """End a remote unlock now; never a face grant's pulse (see the module docstring)."""
        if not self.lock_limit.allow():
            self._on_limited("lock")
            return
        result: LockResult
        if self.relay.state is DoorState.UNLOCKED:
            if self._clock() < self._face_grant_until:
                result = "face grant"
            else:
                self.relay.lock()
                result = "ended"
        else:
            # Nothing changed, so the relay published nothing: say "locked" anyway, the sender waits for it.
            self.events.publish_door(self.relay.state)
            result = "already locked"
        self.recorder.note_lock(result)

    # -- the rest of its life ----------------------------------------------------------------------------------------

    def restrict(self, rules: dict[str, list[Window]]) -> None:
        """The fleet's per-person door lists and schedules, read with the people store."""
        self.decider.restrict(rules)

    def start(self) -> None:
        """Lock, and say so: the state the door starts deciding in."""
        self.relay.lock()
        self.events.publish_door(self.relay.state)

    def apply(self, cfg: Config) -> None:
        """Take on the live keys of ``cfg`` (:attr:`RELOADS`)."""
        old, new = self.settings, DoorSettings.from_config(cfg)
        self.settings = new
        if new.evidence_rules != old.evidence_rules:
            self.decider.reset(new.decide)  # evidence judged by other rules than the new ones
        # The strangers already reported stay remembered, as the decider's cooldowns do.
        self.strangers.cooldown = new.decide.stranger_cooldown_seconds
        self.strangers.memory = new.decide.stranger_memory_seconds
        if old.snapshot and not new.snapshot:
            self.events.publish_snapshot(None)  # no face left on the broker once snapshots are off
        if new.decisions_per_minute != old.decisions_per_minute:
            self.decision_limit = RateLimit("recognition decision", new.decisions_per_minute, clock=self._clock)
        if new.unlocks_per_minute != old.unlocks_per_minute:
            self.unlock_limit = RateLimit("remote unlock", new.unlocks_per_minute, clock=self._clock)
