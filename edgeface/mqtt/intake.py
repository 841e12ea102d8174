"""A door taking the site's signed records into its people store: verify, apply, withhold, count.

:class:`Intake` takes a batch of received records: it verifies each one
(:func:`edgeface.mqtt.fleet.decode_record`) before anything is written, then lets the store keep the
newer copy of each, all in one transaction (:meth:`Store.apply_many`), and counts and logs what
happened: one line per record taken, and one warning line per record refused, folded: at most
:data:`WARNINGS_PER_PERIOD` lines per :data:`WARNING_PERIOD_SECONDS`, the rest counted in one line. A
record is refused on its own, whatever it holds: the rest of its batch is taken (a removal among them
above all).

A door that cannot confirm a person it took from the fleet does not keep letting them in: when the
broker's retained copy of their record is one the door refuses (overwritten by someone without the key,
or broken), when the broker holds no record of them at all (erased without the key), or when their newer
record cannot be stored, they are *withheld*, kept in the store but out of the gallery
(:meth:`Store.withhold`), until a verified record of them is taken.

``edgeface fleet pull`` runs it over the retained records once; :class:`~edgeface.mqtt.fleetsync.FleetSync`
runs it in the daemon for as long as it is connected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from edgeface.errors import EdgefaceError
from edgeface.mqtt.fleet import DoorStatus, FleetTopics, RecordKey, RecordRefused, decode_record, digest
from edgeface.mqtt.throttle import WarningThrottle
from edgeface.storage.people import ModelId, Store
from edgeface.storage.records import Outcome, PersonRecord

__all__ = ["WARNINGS_PER_PERIOD", "WARNING_PERIOD_SECONDS", "Intake", "Message", "Taken"]

log = logging.getLogger(__name__)
WARNINGS_PER_PERIOD = 5
WARNING_PERIOD_SECONDS = 60.0
"""At most WARNINGS_PER_PERIOD lines about refused records per this many seconds; the rest are counted."""


class Message(NamedTuple):
    """A message received on a record topic."""

    topic: str
    payload: bytes
    retained: bool = True
    """Sent as the broker's retained copy: what every door finds there (a live message may be a one-off)."""


@dataclass
class Taken:
    """What :meth:`Intake.take` did with a batch."""

    outcomes: list[Outcome | None]
    """Each message's outcome; None where it was refused, is an empty clear, or could not be stored."""
    changed: bool = False
    """The gallery changed: a record applied, or a person withheld or released."""
    retry: list[Message] = field(default_factory=list)
    """Verified records the store could not take: take them again later."""


class Intake:
    """Verify and apply received records to ``store``, with the counts a door reports."""

    def __init__(
        self,
        store: Store,
        site: str,
        key: RecordKey,
        model: ModelId | None,
        conflicts: Callable[[Sequence[PersonRecord]], dict[str, str]] | None = None,
    ) -> None:
        """``model`` is the door's embedder; a record with no template of it is named in one warning.
        ``conflicts`` names the records refused as a second name for a face this door enrolled
        (:class:`edgeface.mqtt.conflicts.RecordConflicts`)."""
        self.store, self.site, self.model = store, site, model
        self._conflicts = conflicts
        self.key = key
        self.topics = FleetTopics(site)
        self.applied = 0
        self.unchanged = 0
        self.refused = 0
        self.last_sync: float | None = None
        self._warned_model: set[tuple[str, int]] = set()
        self._warn = WarningThrottle(
            log, time.monotonic, WARNINGS_PER_PERIOD, WARNING_PERIOD_SECONDS, what="refused fleet records"
        )
        self._on_broker: set[str] | None = None  # names with a verified record on the broker; None: not known yet

    def subscribed(self) -> None:
        """A (re)connect's subscription was acknowledged: the broker's retained records follow, from scratch."""
        self._on_broker = set()

    def take(self, messages: Sequence[Message], *, complete: bool = False) -> Taken:
        """Messages from ``people/<name>``, in arrival order. Every record is verified before any is written,
        those that verify are written in one transaction, and then people are withheld or released (see the
        module docstring). A record that is refused or cannot be stored costs only itself.

        ``complete``: every record the broker retains has arrived since :meth:`subscribed` (the messages
        paused), so a person taken from the fleet who has none there is withheld."""
        taken = Taken([None] * len(messages))
        verified: list[tuple[int, Message, PersonRecord]] = []
        doubted: dict[str, tuple[int, str]] = {}  # name → (position, why) of the last retained record refused
        for i, message in enumerate(messages):
            if not message.payload:
                log.info("fleet: %s was cleared on the broker", message.topic)
                if self._on_broker is not None:
                    self._on_broker.discard(self.topics.name_of(message.topic) or "")
                continue
            try:
                verified.append((i, message, decode_record(message.topic, message.payload, self.site, self.key)))
            except RecordRefused as exc:
                self.refused += 1
                self._warn.warning("fleet: refused the record on %s: %s", message.topic, exc)
                name = self.topics.name_of(message.topic)
                if message.retained and name is not None:
                    doubted[name] = (i, f"the broker holds a record of them this door refuses ({exc})")
        if self._conflicts is not None and verified:
            refused = self._conflicts([record for _, _, record in verified])
            for _, message, record in verified:
                if record.name in refused:
                    self.refused += 1
                    self._warn.warning("fleet: refused the record on %s: %s", message.topic, refused[record.name])
            verified = [item for item in verified if item[2].name not in refused]
        applied = self._store(verified)
        confirmed: dict[str, int] = {}
        held = self.store.versions() if Outcome.STALE in applied else {}
        for (i, message, record), outcome in zip(verified, applied, strict=True):
            taken.outcomes[i] = outcome
            if outcome is None:
                doubted[record.name] = (i, "their newer record could not be stored")
                taken.retry.append(message)
                continue
            self._note(message.topic, record, outcome, held.get(record.name, 0))
            if outcome is not Outcome.STALE:
                confirmed[record.name] = i
        taken.changed = Outcome.APPLIED in applied
        if verified and any(outcome is not None for outcome in applied):
            self.last_sync = time.time()
        reasons = {name: why for name, (i, why) in doubted.items() if confirmed.get(name, -1) < i}
        if self._on_broker is not None:
            self._on_broker |= {
                record.name for (_, _, record), outcome in zip(verified, applied, strict=True) if outcome
            }
            if complete:
                for name in self.store.fleet_people() - self._on_broker:
                    reasons.setdefault(name, "the broker holds no record of them (erased without the key?)")
        withheld, released = self.store.withhold(reasons, set(confirmed))
        for name in withheld:
            log.warning("fleet: withheld %s from the gallery until the fleet confirms them: %s", name, reasons[name])
        for name in released:
            log.info("fleet: %s is confirmed by the fleet again and back in the gallery", name)
        taken.changed = taken.changed or bool(withheld or released)
        return taken

    def _store(self, verified: list[tuple[int, Message, PersonRecord]]) -> list[Outcome | None]:
        """Apply the records in one transaction, or, if that fails, each on its own: None where one cannot be."""
        records = [record for _, _, record in verified]
        if not records:
            return []
        try:
            return list(self.store.apply_many(records))
        except EdgefaceError as exc:
            log.error("fleet: could not store %d records together (%s); taking them one by one", len(records), exc)
        outcomes: list[Outcome | None] = []
        for record in records:
            try:
                outcomes.append(self.store.apply(record))
            except EdgefaceError as exc:
                log.error("fleet: could not store the record of %s (%s); retrying", record.name, exc)
                outcomes.append(None)
        return outcomes

    def _note(self, topic: str, record: PersonRecord, outcome: Outcome, held: int) -> None:
        if outcome is Outcome.STALE:
            self.refused += 1
            self._warn.warning(
                "fleet: refused the record on %s: stale (version %d, this door holds %d)", topic, record.version, held
            )
        elif outcome is Outcome.UNCHANGED:
            self.unchanged += 1
        elif record.deleted:
            self.applied += 1
            log.info("fleet: removed %s (version %d)", record.name, record.version)
        else:
            self.applied += 1
            log.info("fleet: took %s (version %d, %d templates)", record.name, record.version, len(record.templates))
            if self.model is not None and self.model not in record.models() and record.templates:
                self._warn_model(record.name, record.version, record.models())

    def _warn_model(self, name: str, version: int, models: set[tuple[str, str]]) -> None:
        assert self.model is not None
        if (name, version) in self._warned_model:
            return
        self._warned_model.add((name, version))
        theirs = ", ".join(f"{m} ({sha[:12]})" for m, sha in sorted(models))
        log.warning(
            "fleet: %s's record carries templates of %s only; this door runs %s (%s): %s is not recognised "
            "here until enrolled with that model",
            name,
            theirs,
            self.model[0],
            self.model[1][:12],
            name,
        )

    def status(self, device_id: str, role: str) -> DoorStatus:
        versions = self.store.versions()
        model = self.model or ("", "")
        people = self.store.people(model)
        return DoorStatus(
            device=device_id,
            site=self.site,
            role=role,
            people=len(people),
            records=len(versions),
            digest=digest(versions),
            last_sync=self.last_sync,
            refused=self.refused,
            other_model=sum(1 for p in people if p.templates == 0 and p.other_templates > 0),
            model=model[0],
            ts=time.time(),
        )
