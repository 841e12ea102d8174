"""A door's side of the fleet: take the site's signed records from the broker into the people store.

:class:`Intake` takes a batch of received records: it verifies each one
(:func:`edgeface.mqtt.fleet.decode_record`) before anything is written, then lets the store keep the
newer copy of each, all in one transaction (:meth:`Store.apply_many`), and counts and logs what
happened: one line per record taken, and one warning line per record refused. A record is refused on its
own, whatever it holds: the rest of its batch is taken (a removal among them above all).

A door that cannot confirm a person it took from the fleet does not keep letting them in: when the
broker's retained copy of their record is one the door refuses (overwritten by someone without the key,
or broken), or their newer record cannot be stored, they are *withheld*, kept in the store but out of the
gallery (:meth:`Store.withhold`), until a verified record of them is taken. Records the store could not
take are taken again every :data:`RETRY_SECONDS`, so a sync that could not finish is finished later
rather than dropped.
``edgeface fleet pull`` runs it over the retained records once; :class:`FleetSync` runs it in the
daemon for as long as it is connected.

:class:`FleetSync` has a paho client of its own (client id ``edgeface-<device>-fleet``, so it
never knocks the daemon's event session off the broker), subscribes to ``people/+`` with a clean
session and so receives every retained record again at each (re)connect: a door that was stopped
or cut off converges when it comes back. It speaks MQTT 5 so that it can cap what it receives: the
broker never sends it a packet over :data:`~edgeface.mqtt.fleet.MAX_PACKET_BYTES` (it drops those),
and a batch is taken early once :data:`BATCH_BYTES` are waiting, so no publish, however large or
many, makes a door buffer more than that. Refusals are folded: at most :data:`WARNINGS_PER_PERIOD`
lines per :data:`WARNING_PERIOD_SECONDS`, the rest counted in one line.

Paho's thread only queues what arrives; the agent's worker takes a batch once the messages pause (or
every couple of seconds of a steady stream), then calls ``on_change()`` once (the daemon reloads its
gallery then) and publishes the door's retained status (:class:`edgeface.mqtt.fleet.DoorStatus`). An
admin only announces its status: it is the source of the records, never their sink.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import NamedTuple

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edgeface.config import Config
from edgeface.errors import EdgefaceError
from edgeface.mqtt.broker import broker_client
from edgeface.mqtt.conflicts import RecordConflicts
from edgeface.mqtt.fleet import (
    MAX_PACKET_BYTES,
    DoorStatus,
    FleetTopics,
    RecordKey,
    RecordRefused,
    decode_record,
    digest,
    record_key,
)
from edgeface.mqtt.guard import guarded
from edgeface.mqtt.throttle import WarningThrottle
from edgeface.storage.people import ModelId, Store
from edgeface.storage.records import Outcome, PersonRecord

__all__ = ["FleetSync", "Intake", "Message", "Taken"]

log = logging.getLogger(__name__)
_guarded = guarded(log, "fleet")
FLEET_QOS = 1
QUIET_SECONDS = 0.3
"""A batch of records (the retained set after a connect) ends after this long without another..."""
BATCH_SECONDS = 2.0
"""...or this long after it began, so a steady stream of records is still taken."""
RETRY_SECONDS = 5.0
"""How soon records the store could not take are taken again."""
BATCH_BYTES = 16 * 1024 * 1024
"""A batch is taken as soon as this many bytes of records wait, whatever still arrives."""
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
        self._key = key
        self.topics = FleetTopics(site)
        self.applied = 0
        self.unchanged = 0
        self.refused = 0
        self.last_sync: float | None = None
        self._warned_model: set[tuple[str, int]] = set()
        self._warn = WarningThrottle(
            log, time.monotonic, WARNINGS_PER_PERIOD, WARNING_PERIOD_SECONDS, what="refused fleet records"
        )

    def take(self, messages: Sequence[Message]) -> Taken:
        """Messages from ``people/<name>``, in arrival order. Every record is verified before any is written,
        those that verify are written in one transaction, and then people are withheld or released (see the
        module docstring). A record that is refused or cannot be stored costs only itself."""
        taken = Taken([None] * len(messages))
        verified: list[tuple[int, Message, PersonRecord]] = []
        doubted: dict[str, tuple[int, str]] = {}  # name → (position, why) of the last retained record refused
        for i, message in enumerate(messages):
            if not message.payload:
                log.debug("fleet: %s was cleared on the broker; nothing to take", message.topic)
                continue
            try:
                verified.append((i, message, decode_record(message.topic, message.payload, self.site, self._key)))
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


class FleetSync:
    """The daemon's fleet agent (see the module docstring). Use as a context manager or :meth:`close`."""

    def __init__(
        self,
        cfg: Config,
        model: ModelId | None,
        *,
        on_change: Callable[[], None] = lambda: None,
        reconnect_delay: tuple[int, int] = (1, 30),
    ) -> None:
        fleet, mqtt = cfg.fleet, cfg.mqtt
        self.device_id, self.role = cfg.device_id, fleet.role
        self.topics = FleetTopics(fleet.site)
        self._on_change = on_change
        self._store = Store(cfg.store_path)
        conflicts = RecordConflicts.from_config(cfg, self._store, model) if model is not None else None
        self.intake = Intake(self._store, fleet.site, record_key(fleet), model, conflicts)
        self._lock = threading.Lock()  # the store and the intake's counters: the worker's, and status() callers
        self._received: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._synced = threading.Event()
        self._waiting = 0  # bytes of records received and not yet taken (paho's thread adds, the worker takes)
        self._waiting_lock = threading.Lock()
        client = broker_client(mqtt, f"edgeface-{cfg.device_id}-fleet", log=log)
        client.reconnect_delay_set(*reconnect_delay)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        self._worker = threading.Thread(target=self._run, name=f"edgeface-fleet-{cfg.device_id}", daemon=True)
        self._worker.start()
        connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
        connect.MaximumPacketSize = MAX_PACKET_BYTES
        # A clean start: records are retained on the broker, nothing needs queueing for us while away.
        client.connect_async(mqtt.host, mqtt.port, keepalive=mqtt.keepalive, clean_start=True, properties=connect)
        client.loop_start()
        log.info("fleet: %s of site %s, records under %s/", self.role, fleet.site, self.topics.root)

    @classmethod
    def from_config(cls, cfg: Config, model: ModelId | None, on_change: Callable[[], None]) -> FleetSync:
        return cls(cfg, model, on_change=on_change)

    def __enter__(self) -> FleetSync:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def wait_synced(self, timeout: float) -> bool:
        """Wait until the retained records of a connect have been taken (for tests and tools)."""
        return self._synced.wait(timeout)

    def status(self) -> DoorStatus:
        with self._lock:
            return self.intake.status(self.device_id, self.role)

    def close(self) -> None:
        """Stop the worker, disconnect and close the store connection; idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        self._worker.join(5)
        self._client.disconnect()
        self._client.loop_stop()
        self._store.close()

    def _run(self) -> None:
        pending: list[Message] = []  # records the store could not take yet
        while True:
            self._wake.wait(RETRY_SECONDS if pending else None)
            # Let a burst (the retained set after a connect) finish: one transaction, one reload, one status.
            until = time.monotonic() + BATCH_SECONDS
            while (
                self._wake.is_set()
                and time.monotonic() < until
                and self._waiting < BATCH_BYTES
                and not self._stopping.is_set()
            ):
                self._wake.clear()
                self._stopping.wait(QUIET_SECONDS)
            if self._stopping.is_set():
                return
            batch, pending = pending, []
            while not self._received.empty():
                batch.append(self._received.get())
                with self._waiting_lock:
                    self._waiting -= len(batch[-1].payload)
            try:
                with self._lock:
                    taken = self.intake.take(batch)
                pending = taken.retry
                if taken.changed:
                    self._on_change()
                status = self.status()
                self._client.publish(self.topics.door(self.device_id), status.to_json(), qos=FLEET_QOS, retain=True)
                self._synced.set()
                log.info(
                    "fleet: %d people, %d records (digest %s), %d refused",
                    status.people,
                    status.records,
                    status.digest,
                    status.refused,
                )
            except Exception:
                pending = batch
                log.exception("fleet: could not finish a sync; taking these %d records again shortly", len(batch))

    @_guarded
    def _on_connect(
        self, client: Client, userdata: object, flags: ConnectFlags, reason: ReasonCode, properties: Properties | None
    ) -> None:
        if reason.is_failure:
            log.error("fleet: the broker refused the connection: %s", reason)
            return
        if self.role == "door":
            # Retain as published: a record someone retains while we are connected is flagged as the broker's copy.
            client.subscribe(self.topics.people, options=SubscribeOptions(qos=FLEET_QOS, retainAsPublished=True))
        else:
            self._wake.set()

    @_guarded
    def _on_subscribe(
        self, client: Client, userdata: object, mid: int, reasons: list[ReasonCode], properties: Properties | None
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("fleet: the broker refused the subscription to %s: records will not arrive", self.topics.people)
        self._wake.set()  # the status goes out even when no record is retained yet

    @_guarded
    def _on_disconnect(
        self, client: Client, userdata: object, flags: DisconnectFlags, reason: ReasonCode, props: Properties | None
    ) -> None:
        self._synced.clear()
        if not self._stopping.is_set():
            log.warning("fleet: lost the broker (%s); retrying, the records are taken again on reconnect", reason)

    @_guarded
    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        with self._waiting_lock:
            self._waiting += len(message.payload)
        self._received.put(Message(message.topic, bytes(message.payload), bool(message.retain)))
        self._wake.set()
