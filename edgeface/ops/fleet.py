"""``edgeface fleet``: publish the local people (push), take the site's records once (pull), and see
every door's state (status). The wire format is :mod:`edgeface.mqtt.fleet`; docs/fleet.md has the setup.

Each command makes one short connection of its own (:func:`edgeface.mqtt.connect.connected_client`).
Retained messages come right after the subscription is acknowledged; MQTT has no "end of retained"
marker, so a reader takes what arrives until ``settle`` seconds pass without another message.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edgeface.config import Config
from edgeface.errors import ConfigError, EdgefaceError
from edgeface.mqtt.broker import acknowledged
from edgeface.mqtt.conflicts import RecordConflicts
from edgeface.mqtt.connect import connected_client
from edgeface.mqtt.fleet import (
    MAX_PACKET_BYTES,
    MAX_RECORD_BYTES,
    DoorStatus,
    FleetTopics,
    RecordRefused,
    decode_record,
    digest,
    encode_record,
    record_key,
)
from edgeface.mqtt.intake import Intake, Message
from edgeface.storage.people import ModelId, Store

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 10.0
"""Seconds a push waits for the broker to acknowledge one record."""


def _fleet_on(cfg: Config) -> None:
    if not cfg.fleet.enabled:
        raise ConfigError("fleet.enabled is false: set up the fleet section first (see docs/fleet.md)")


def retained(cfg: Config, topic_filter: str, settle: float = 0.5, timeout: float = 30.0) -> dict[str, bytes]:
    """Topic → payload of the retained messages under ``topic_filter`` (empty ones, cleared topics, left out)."""
    got: dict[str, bytes] = {}
    lock = threading.Lock()
    subscribed = threading.Event()
    last = [time.monotonic()]

    def on_message(client: Client, userdata: object, message: MQTTMessage) -> None:
        with lock:
            if message.retain and message.payload:
                got[message.topic] = bytes(message.payload)
            last[0] = time.monotonic()

    def on_subscribe(
        client: Client, userdata: object, mid: int, reasons: list[ReasonCode], props: Properties | None
    ) -> None:
        last[0] = time.monotonic()
        subscribed.set()

    with connected_client(cfg.mqtt, "fleet", max_packet=MAX_PACKET_BYTES) as client:
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        client.subscribe(topic_filter, 1)
        if not subscribed.wait(timeout):
            raise EdgefaceError(f"MQTT broker {cfg.mqtt.host}:{cfg.mqtt.port}: no answer to the subscription")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                quiet = time.monotonic() - last[0]
            if quiet >= settle:
                break
            time.sleep(min(0.05, settle))
    return got


@dataclass(frozen=True)
class Pushed:
    people: int
    tombstones: int
    names: list[str]


def push(cfg: Config, names: list[str], model: ModelId | None = None, *, allow_similar: bool = False) -> Pushed:
    """Publish the signed records of ``names`` (none: everyone and every removal) from the local store.

    With the admin's embedder ``model``, nothing is pushed while a record's face passes for another person
    of the store under another name (one face, one name; :class:`~edgeface.mqtt.conflicts.RecordConflicts`),
    unless ``allow_similar`` (twins enrolled with ``--allow-similar``).
    """
    _fleet_on(cfg)
    if cfg.fleet.role != "admin":
        raise ConfigError(f"fleet.role is {cfg.fleet.role!r}: only the site's admin publishes records")
    key = record_key(cfg.fleet, signing=True)
    with Store(cfg.store_path) as store:
        records = store.records(names or None)
        clashes = RecordConflicts.from_config(cfg, store, model)(records) if model and not allow_similar else {}
    missing = sorted(set(names) - {r.name for r in records})
    if missing:
        raise EdgefaceError(f"not in {cfg.store_path} (never enrolled here): {', '.join(missing)}")
    if clashes:
        said = "; ".join(f"{name}: {why}" for name, why in sorted(clashes.items()))
        raise EdgefaceError(f"nothing pushed: {said} (fleet push --allow-similar pushes them anyway)")
    with connected_client(cfg.mqtt, "fleet-push") as client:
        infos = []
        for record in records:
            topic, payload = encode_record(record, cfg.fleet.site, key)
            if len(payload) > MAX_RECORD_BYTES:
                raise EdgefaceError(
                    f"the record of {record.name} is {len(payload)} bytes, more than the {MAX_RECORD_BYTES} a door "
                    f"takes: {len(record.templates)} templates are too many (remove some and enrol fewer photos)"
                )
            infos.append((record.name, client.publish(topic, payload, qos=1, retain=True)))
        for name, info in infos:
            if not acknowledged(info, PUBLISH_TIMEOUT):
                raise EdgefaceError(
                    f"MQTT broker {cfg.mqtt.host}:{cfg.mqtt.port} did not take the record of {name} "
                    "(is this device's broker user allowed to write the site's records?)"
                )
    log.info("fleet: pushed %d records to site %s", len(records), cfg.fleet.site)
    tombstones = sum(r.deleted for r in records)
    return Pushed(len(records) - tombstones, tombstones, [r.name for r in records])


@dataclass(frozen=True)
class Pulled:
    applied: int
    unchanged: int
    refused: int
    people: int
    withheld: int
    """People taken from the fleet whose record on the broker this door refuses: kept out of the gallery."""


def pull(cfg: Config, model: ModelId | None, settle: float = 0.5) -> Pulled:
    """Take the site's retained records into the local store once, as a running door would."""
    _fleet_on(cfg)
    messages = retained(cfg, FleetTopics(cfg.fleet.site).people, settle)
    with Store(cfg.store_path) as store:
        conflicts = RecordConflicts.from_config(cfg, store, model) if model is not None else None
        intake = Intake(store, cfg.fleet.site, record_key(cfg.fleet), model, conflicts)
        intake.subscribed()
        taken = intake.take([Message(topic, payload) for topic, payload in sorted(messages.items())], complete=True)
        people = len(store.people())
        withheld = len(store.withheld())
    if taken.retry:
        raise EdgefaceError(f"{cfg.store_path}: could not store {len(taken.retry)} records (see the log)")
    return Pulled(intake.applied, intake.unchanged, intake.refused, people, withheld)


@dataclass(frozen=True)
class FleetState:
    site: str
    records: int
    """Verified records on the broker, tombstones included."""
    people: int
    digest: str
    refused: int
    """Retained records that do not verify (another key, tampered)."""
    doors: list[tuple[DoorStatus, bool]] = field(default_factory=list)
    """Each door's status and whether it holds exactly the broker's records."""
    unsigned: list[str] = field(default_factory=list)
    """Doors whose status is not signed with the site's key: forged, or (Ed25519) a door, which cannot sign."""
    missing: list[str] = field(default_factory=list)
    """People and removals this device holds at a version the broker lacks (erased, or not pushed yet)."""


def status(cfg: Config, settle: float = 0.5) -> FleetState:
    """Every door's retained status, compared with the records retained on the broker."""
    _fleet_on(cfg)
    topics = FleetTopics(cfg.fleet.site)
    key = record_key(cfg.fleet)
    messages = retained(cfg, f"{topics.root}/#", settle)
    versions: dict[str, int] = {}
    deleted = refused = 0
    doors: list[DoorStatus] = []
    unsigned: list[str] = []
    for topic, payload in sorted(messages.items()):
        try:
            if topics.name_of(topic) is not None:
                record = decode_record(topic, payload, cfg.fleet.site, key)
                versions[record.name] = record.version
                deleted += record.deleted
            elif topic.startswith(f"{topics.root}/doors/"):
                door, signed = DoorStatus.from_json(topic, payload, key)
                doors.append(door)
                if not signed:
                    unsigned.append(door.device)
        except RecordRefused as exc:
            refused += 1
            log.warning("fleet: %s does not verify: %s", topic, exc)
    fingerprint = digest(versions)
    with Store(cfg.store_path) as store:
        held = store.versions()
    return FleetState(
        cfg.fleet.site,
        len(versions),
        len(versions) - deleted,
        fingerprint,
        refused,
        [(d, d.digest == fingerprint) for d in doors],
        unsigned=unsigned,
        missing=sorted(name for name, version in held.items() if versions.get(name, 0) < version),
    )


__all__ = ["FleetState", "Pulled", "Pushed", "pull", "push", "retained", "status"]
