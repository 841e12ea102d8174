"""A door's side of the fleet in the daemon: receive the site's signed records and take them in batches.

:class:`FleetSync` has a paho client of its own (client id ``edgeface-<device>-fleet``, so it
never knocks the daemon's event session off the broker), subscribes to ``people/+`` with a clean
session and so receives every retained record again at each (re)connect: a door that was stopped
or cut off converges when it comes back. It speaks MQTT 5 so that it can cap what it receives: the
broker never sends it a packet over :data:`~edgeface.mqtt.fleet.MAX_PACKET_BYTES` (it drops those),
and a batch is taken early once :data:`BATCH_BYTES` are waiting, so no publish, however large or
many, makes a door buffer more than that. Each batch goes through an
:class:`~edgeface.mqtt.intake.Intake` (verify, apply, withhold, count); records the store could not
take are taken again every :data:`RETRY_SECONDS`, so a sync that could not finish is finished later
rather than dropped.

Paho's thread only queues what arrives; the agent's worker takes a batch once the messages pause (or
every couple of seconds of a steady stream), then calls ``on_change()`` once (the daemon reloads its
gallery then) and publishes the door's retained status (:class:`edgeface.mqtt.fleet.DoorStatus`). An
admin is the source of the records, never their sink: it announces its status and watches the records
on the broker, and re-publishes a removal it holds that the broker has lost (someone without the key
erased the retained tombstone), so a door that was away still learns of it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edgeface.config import Config
from edgeface.mqtt.broker import broker_client
from edgeface.mqtt.conflicts import RecordConflicts
from edgeface.mqtt.fleet import (
    MAX_PACKET_BYTES,
    DoorStatus,
    FleetTopics,
    RecordRefused,
    decode_record,
    encode_record,
    record_key,
)
from edgeface.mqtt.guard import guarded
from edgeface.mqtt.intake import Intake, Message, Taken
from edgeface.mqtt.takeover import TakeoverWatch
from edgeface.storage.people import ModelId, Store

__all__ = ["FleetSync"]

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
_SUBSCRIBED = Message("", b"", retained=False)
"""Queued when a (re)connect's subscription is acknowledged: the broker's retained records come after it."""


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
        self._signing = record_key(fleet, signing=True) if self.role == "admin" else None
        self._on_broker: dict[str, int] | None = None  # the admin's view: name → version the broker retains
        self._lock = threading.Lock()  # the store and the intake's counters: the worker's, and status() callers
        self._received: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._synced = threading.Event()
        self._waiting = 0  # bytes of records received and not yet taken (paho's thread adds, the worker takes)
        self._waiting_lock = threading.Lock()
        self._takeovers = TakeoverWatch(log, f"edgeface-{cfg.device_id}-fleet")
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
            quiet = not self._wake.is_set()  # the messages paused: a connect's retained records are all here
            batch, pending = pending, []
            while not self._received.empty():
                batch.append(self._received.get())
                with self._waiting_lock:
                    self._waiting -= len(batch[-1].payload)
            try:
                with self._lock:
                    taken = self._take(batch, quiet) if self._signing is None else self._republish(batch, quiet)
                pending = taken.retry
                if taken.changed:
                    self._on_change()
                status = self.status()
                topic = self.topics.door(self.device_id)
                signed = status.to_json(topic, self._signing or self.intake.key)
                self._client.publish(topic, signed, qos=FLEET_QOS, retain=True)
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

    def _take(self, batch: list[Message], quiet: bool) -> Taken:
        """Take ``batch``; the records after its last subscription are the broker's whole retained set if ``quiet``."""
        fresh = max((i for i, message in enumerate(batch) if message is _SUBSCRIBED), default=None)
        if fresh is None:
            return self.intake.take(batch, complete=quiet)
        before = self.intake.take(batch[:fresh]) if fresh else Taken([])
        self.intake.subscribed()
        after = self.intake.take([m for m in batch[fresh + 1 :] if m is not _SUBSCRIBED], complete=quiet)
        return Taken([], before.changed or after.changed, before.retry + after.retry)

    def _republish(self, batch: list[Message], quiet: bool) -> Taken:
        """The admin's watch: re-publish every removal it holds that the broker no longer retains."""
        assert self._signing is not None
        for message in batch:
            name = self.topics.name_of(message.topic)
            if message is _SUBSCRIBED:
                self._on_broker = {}
            elif self._on_broker is not None and name is not None:
                try:
                    version = decode_record(message.topic, message.payload, self.topics.site, self.intake.key).version
                except RecordRefused:  # an empty clear, or a record that does not verify: the removal is lost
                    version = 0
                self._on_broker[name] = version
        if quiet and self._on_broker is not None:
            for record in self._store.records():
                if record.deleted and self._on_broker.get(record.name, 0) < record.version:
                    topic, payload = encode_record(record, self.topics.site, self._signing)
                    self._client.publish(topic, payload, qos=FLEET_QOS, retain=True)
                    self._on_broker[record.name] = record.version
                    log.warning("fleet: re-published the removal of %s: the broker had lost it", record.name)
        return Taken([])

    @_guarded
    def _on_connect(
        self, client: Client, userdata: object, flags: ConnectFlags, reason: ReasonCode, properties: Properties | None
    ) -> None:
        if reason.is_failure:
            log.error("fleet: the broker refused the connection: %s", reason)
            return
        self._takeovers.connected()
        # Retain as published: a record someone retains while we are connected is flagged as the broker's copy.
        client.subscribe(self.topics.people, options=SubscribeOptions(qos=FLEET_QOS, retainAsPublished=True))

    @_guarded
    def _on_subscribe(
        self, client: Client, userdata: object, mid: int, reasons: list[ReasonCode], properties: Properties | None
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("fleet: the broker refused the subscription to %s: records will not arrive", self.topics.people)
        else:
            self._received.put(_SUBSCRIBED)
        self._wake.set()  # the status goes out even when no record is retained yet

    @_guarded
    def _on_disconnect(
        self, client: Client, userdata: object, flags: DisconnectFlags, reason: ReasonCode, props: Properties | None
    ) -> None:
        self._synced.clear()
        if not self._stopping.is_set() and not self._takeovers.disconnected(reason):
            log.warning("fleet: lost the broker (%s); retrying, the records are taken again on reconnect", reason)

    @_guarded
    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        with self._waiting_lock:
            self._waiting += len(message.payload)
        self._received.put(Message(message.topic, bytes(message.payload), bool(message.retain)))
        self._wake.set()
