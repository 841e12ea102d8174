"""The fleet's wire format: topics, signed person records and door status (no network I/O here).

Topics, under ``edgeface/fleet/<site>`` (``fleet.site``)::

    edgeface/fleet/<site>/people/<name>    one person's record, retained, QoS 1; published by the admin only
    edgeface/fleet/<site>/doors/<device>   one door's status, retained, QoS 1; published by that door

A record (UTF-8 JSON, at most :data:`MAX_RECORD_BYTES`)::

    {"format": "edgeface-person-v1", "site": "office", "name": "ann", "version": 1767225600123,
     "updated": 1767225600.12, "deleted": false,
     "templates": [{"model": "edgeface_s", "model_sha256": "<64 hex>", "vector": "<base64 float32 LE>",
                    "photo_sha256": "<64 hex> or null"}],
     "doors": ["front", "back"] or null,
     "schedule": [{"days": ["mon"], "start": "08:00:00", "end": "18:00:00"}] or null,
     "sig": "<64 hex>"}

A removal is the same object with ``"deleted": true`` and no templates (a tombstone), also retained,
so a door that was offline learns of it when it reconnects. ``version`` orders copies of a record
(:mod:`edgeface.storage.records`).

Signature: ``sig`` is HMAC-SHA256, keyed with the site's key (``fleet.key``), over the UTF-8 bytes of
``edgeface-person-v1\\n<topic>\\n<body>``, where ``<body>`` is the record without ``sig`` as JSON with
sorted keys and no spaces (``json.dumps(body, sort_keys=True, separators=(",", ":"))``). The topic is
signed with it, so a record cannot be moved to another name or site. A door refuses, with one log
line and without writing anything, a record that is unsigned, wrongly signed, for another site or
name, malformed, or older than the version it holds.

With HMAC every door holds the key that signs: what stops a door from writing records is the broker's
ACL (doors read, the admin writes: docs/fleet.md), and the key stops anyone else who can reach the
topics (a misconfigured ACL, a bridge from another site). With Ed25519 the doors hold only the public
key, so not even a stolen door can sign a record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgeface.config import FleetConfig, Window
from edgeface.errors import ConfigError, EdgefaceError
from edgeface.storage.names import check_name
from edgeface.storage.records import PersonRecord, TemplateRecord

__all__ = [
    "FORMAT",
    "MAX_PACKET_BYTES",
    "MAX_RECORD_BYTES",
    "DoorStatus",
    "Ed25519Key",
    "FleetTopics",
    "HmacKey",
    "RecordKey",
    "RecordRefused",
    "decode_record",
    "digest",
    "encode_record",
    "generate_keypair",
    "record_key",
]

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORMAT = "edgeface-person-v1"
MAX_RECORD_BYTES = 1024 * 1024
"""A record with a hundred 512-d templates is about 300 KB; anything far larger is not one of ours."""
MAX_PACKET_BYTES = MAX_RECORD_BYTES + 4 * 1024
"""The largest packet a fleet client lets the broker send it (MQTT 5 Maximum Packet Size, set at CONNECT):
a record at its limit, its topic and headers. The broker drops anything larger rather than sending it, so
a 200 MiB publish costs a door nothing (paho buffers a whole packet before anything can look at it)."""


_HEX = re.compile(r"^[0-9a-fA-F]{64,128}$")
"""A signature: HMAC-SHA256 is 32 bytes, Ed25519 64, in hexadecimal."""


class RecordRefused(EdgefaceError, ValueError):
    """A record a door will not take; the message says why in one short line."""


@dataclass(frozen=True)
class FleetTopics:
    site: str

    @property
    def root(self) -> str:
        return f"edgeface/fleet/{self.site}"

    def person(self, name: str) -> str:
        return f"{self.root}/people/{name}"

    @property
    def people(self) -> str:
        """The subscription to every person's record."""
        return f"{self.root}/people/+"

    def door(self, device_id: str) -> str:
        return f"{self.root}/doors/{device_id}"

    @property
    def doors(self) -> str:
        return f"{self.root}/doors/+"

    def name_of(self, topic: str) -> str | None:
        """The person a record topic is about, or None if it is not one of this site's record topics."""
        head = f"{self.root}/people/"
        return topic[len(head) :] if topic.startswith(head) and "/" not in topic[len(head) :] else None


class _Template(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    model: str = Field(min_length=1, max_length=128)
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    vector: str = Field(min_length=4)
    photo_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str
    site: str
    name: str
    version: int = Field(gt=0, strict=True)
    updated: float
    deleted: bool = Field(strict=True)
    templates: list[_Template] = Field(max_length=1000)
    doors: list[str] | None = Field(None, max_length=1000)
    schedule: list[Window] | None = Field(None, max_length=100)


class RecordKey(Protocol):
    """What signs and checks records: :class:`HmacKey` or :class:`Ed25519Key`."""

    def sign(self, message: bytes) -> str:
        """The signature of ``message`` in hexadecimal; ConfigError where this device cannot sign."""
        ...

    def verify(self, message: bytes, signature: str) -> bool: ...


@dataclass(frozen=True)
class HmacKey:
    secret: bytes

    def sign(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature.lower())


class Ed25519Key:
    """The admin's public key, and on the admin its private key too."""

    def __init__(self, public: bytes, private: Ed25519PrivateKey | None = None) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        self._public = Ed25519PublicKey.from_public_bytes(public)
        self._private = private

    def sign(self, message: bytes) -> str:
        if self._private is None:
            raise ConfigError("fleet.private_key_file: this device holds only the public key; the admin signs")
        return self._private.sign(message).hex()

    def verify(self, message: bytes, signature: str) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._public.verify(bytes.fromhex(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def record_key(fleet: FleetConfig, *, signing: bool = False) -> RecordKey:
    """The key ``fleet`` configures; with ``signing``, one that can sign (the admin's). ConfigError names the key."""
    if fleet.signature == "hmac-sha256":
        return HmacKey(fleet.signing_key())
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

    try:
        public = base64.b64decode(fleet.public_key or "", validate=True)
        if len(public) != 32:
            raise ValueError(f"{len(public)} bytes, not 32")
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"fleet.public_key: not an Ed25519 public key in base64 ({exc})") from None
    if not signing:
        return Ed25519Key(public)
    if fleet.private_key_file is None:
        raise ConfigError(
            "fleet.private_key_file: the admin signs records with its private key (edgeface fleet keygen)"
        )
    path = Path(fleet.private_key_file).expanduser()
    try:
        shared = path.stat().st_mode & 0o077
        private = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:  # TypeError: it is encrypted
        raise ConfigError(f"fleet.private_key_file: {path}: cannot read an Ed25519 private key ({exc})") from None
    if shared:
        raise ConfigError(f"fleet.private_key_file: {path} may be read by others (mode bits {shared:#o}); chmod 600")
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"fleet.private_key_file: {path} is not an Ed25519 key")
    if private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != public:
        raise ConfigError(f"fleet.private_key_file: {path} does not belong to fleet.public_key")
    return Ed25519Key(public, private)


def generate_keypair(path: Path) -> str:
    """Write a new Ed25519 private key to ``path`` (0600, never over an existing file); its public key in base64."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise EdgefaceError(f"{path}: cannot create the private key file ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _signed_text(topic: str, body: dict[str, Any]) -> bytes:
    return f"{FORMAT}\n{topic}\n{json.dumps(body, sort_keys=True, separators=(',', ':'))}".encode()


def encode_record(record: PersonRecord, site: str, key: RecordKey) -> tuple[str, bytes]:
    """The topic and signed payload of ``record`` for ``site``."""
    topic = FleetTopics(site).person(record.name)
    body: dict[str, Any] = {
        "format": FORMAT,
        "site": site,
        "name": record.name,
        "version": record.version,
        "updated": record.updated,
        "deleted": record.deleted,
        "templates": [
            {
                "model": t.model,
                "model_sha256": t.model_sha256,
                "vector": base64.b64encode(np.asarray(t.vector, "<f4").tobytes()).decode(),
                "photo_sha256": t.photo_sha256,
            }
            for t in ([] if record.deleted else record.templates)
        ],
        "doors": list(record.doors) if record.doors is not None else None,
        "schedule": [w.model_dump(mode="json") for w in record.schedule] if record.schedule is not None else None,
    }
    return topic, json.dumps({**body, "sig": key.sign(_signed_text(topic, body))}, separators=(",", ":")).encode()


def decode_record(topic: str, payload: bytes, site: str, key: RecordKey) -> PersonRecord:
    """The record in ``payload``, checked in this order: size, JSON, signature, site and name, fields.

    Raises RecordRefused naming the first problem, and nothing else whatever the payload holds: anyone who
    can reach the topic can publish it, so one bad record must never take its batch down with it.
    Nothing is trusted before the signature is checked.
    """
    try:
        return _decode(topic, payload, site, key)
    except RecordRefused:
        raise
    except Exception as exc:  # whatever a hostile payload makes a parser raise is a refusal too
        raise RecordRefused(f"unreadable ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:120]


def _decode(topic: str, payload: bytes, site: str, key: RecordKey) -> PersonRecord:
    if len(payload) > MAX_RECORD_BYTES:
        raise RecordRefused(f"{len(payload)} bytes, more than {MAX_RECORD_BYTES}")
    try:
        data = json.loads(payload)
    # ValueError: JSON's own errors, and an integer of more than 4,300 digits; RecursionError: arrays nested
    # thousands deep. Both come from a few kilobytes anyone can publish.
    except (ValueError, RecursionError) as exc:
        raise RecordRefused(f"not JSON ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise RecordRefused("not a JSON object")
    sig = data.pop("sig", None)
    if sig is None:
        raise RecordRefused("unsigned")
    if not isinstance(sig, str) or not _HEX.match(sig) or not key.verify(_signed_text(topic, data), sig):
        raise RecordRefused("bad signature (another site's key, or changed after signing)")
    if data.get("site") != site:
        raise RecordRefused(f"for site {str(data.get('site'))[:64]!r}, this door is in site {site!r}")
    if FleetTopics(site).name_of(topic) != data.get("name"):
        raise RecordRefused(f"names {str(data.get('name'))[:64]!r} but was published on {topic}")
    try:
        body = _Record.model_validate(data)
        check_name(body.name)
    except (ValidationError, EdgefaceError) as exc:
        raise RecordRefused(f"malformed ({str(exc).splitlines()[0]})") from None
    if body.format != FORMAT:
        raise RecordRefused(f"unknown format {body.format[:40]!r}")
    return PersonRecord(
        body.name,
        body.version,
        body.updated,
        body.deleted,
        tuple(_template(t) for t in body.templates),
        tuple(body.doors) if body.doors is not None else None,
        tuple(body.schedule) if body.schedule is not None else None,
    )


def _template(t: _Template) -> TemplateRecord:
    try:
        raw = base64.b64decode(t.vector, validate=True)
    except binascii.Error:
        raise RecordRefused(f"a template of model {t.model} is not base64") from None
    if len(raw) % 4:
        raise RecordRefused(f"a template of model {t.model} is not float32")
    vector = np.frombuffer(raw, "<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise RecordRefused(f"a template of model {t.model} holds NaN or infinity")
    return TemplateRecord(t.model, t.model_sha256, vector, t.photo_sha256)


def digest(versions: dict[str, int]) -> str:
    """A short fingerprint of name → version: two stores with the same one hold the same records."""
    text = "\n".join(f"{name}\t{versions[name]}" for name in sorted(versions))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DoorStatus:
    """What a door announces on its retained status topic (and ``edgeface fleet status`` reads back)."""

    device: str
    site: str
    role: str
    people: int
    records: int
    digest: str
    last_sync: float | None
    refused: int
    other_model: int
    """People whose records carry no template of this door's embedder (not recognised here)."""
    model: str
    ts: float

    def to_json(self, topic: str, key: RecordKey) -> bytes:
        """The status, signed like a record where this device can sign (with HMAC every door holds the key)."""
        try:
            sig: str | None = key.sign(_signed_status(topic, self.__dict__))
        except ConfigError:  # Ed25519: only the admin can sign; the ACL pins the topic to the door
            sig = None
        return json.dumps({**self.__dict__, "sig": sig}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, topic: str, payload: bytes, key: RecordKey) -> tuple[DoorStatus, bool]:
        """The status on ``topic`` and whether it is signed with the site's key (a forged door's is not)."""
        try:
            data = json.loads(payload)
            status = cls(**{k: data[k] for k in cls.__dataclass_fields__})
            sig = data.get("sig")
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise RecordRefused(f"not a door status ({_first_line(exc)})") from None
        if not topic.endswith(f"/{status.device}"):
            raise RecordRefused(f"the status of {str(status.device)[:64]!r} was published on {topic}")
        body = {k: data[k] for k in cls.__dataclass_fields__}
        signed = isinstance(sig, str) and bool(_HEX.match(sig)) and key.verify(_signed_status(topic, body), sig)
        return status, signed


def _signed_status(topic: str, body: dict[str, Any]) -> bytes:
    return f"edgeface-door-status-v1\n{topic}\n{json.dumps(body, sort_keys=True, separators=(',', ':'))}".encode()
