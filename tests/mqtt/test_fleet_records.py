"""The fleet's wire format: a signed record round-trips, and anything forged, moved or broken is refused."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import time
from pathlib import Path

import numpy as np
import pytest

from edgeface.config import FleetConfig, Window
from edgeface.errors import ConfigError, EdgefaceError
from edgeface.mqtt.fleet import (
    FleetTopics,
    HmacKey,
    RecordRefused,
    decode_record,
    digest,
    encode_record,
    generate_keypair,
    record_key,
)
from edgeface.storage.records import PersonRecord, TemplateRecord

KEY = HmacKey(b"site-key-0123456789abcdef")
MODEL = ("edgeface_s", "a" * 64)


def ann(version: int = 1_767_225_600_123, **fields: object) -> PersonRecord:
    vector = np.linspace(-1, 1, 512, dtype=np.float32)
    base: dict[str, object] = {
        "templates": (TemplateRecord(*MODEL, vector, "c" * 64),),
        "doors": ("front", "back"),
        "schedule": (Window(days=["mon", "fri"], start=time(8), end=time(18)),),
    }
    return PersonRecord("ann", version, 1767225600.12, **{**base, **fields})  # type: ignore[arg-type]


def resign(payload: bytes, **changes: object) -> bytes:
    """The payload with ``changes`` made after signing (the old signature kept)."""
    return json.dumps({**json.loads(payload), **changes}).encode()


def test_a_signed_record_round_trips_with_its_templates_version_and_rules() -> None:
    topic, payload = encode_record(ann(), "office", KEY)
    assert topic == "edgeface/fleet/office/people/ann"
    got = decode_record(topic, payload, "office", KEY)
    assert (got.name, got.version, got.updated, got.deleted) == ("ann", 1_767_225_600_123, 1767225600.12, False)
    assert (got.doors, got.schedule) == (ann().doors, ann().schedule)
    [template] = got.templates
    assert (template.model, template.model_sha256, template.photo_sha256) == (*MODEL, "c" * 64)
    np.testing.assert_array_equal(template.vector, ann().templates[0].vector)


def test_a_tombstone_is_signed_and_carries_no_templates() -> None:
    topic, payload = encode_record(ann(deleted=True), "office", KEY)
    assert json.loads(payload)["templates"] == []
    got = decode_record(topic, payload, "office", KEY)
    assert got.deleted and got.templates == ()


def unsigned(payload: bytes) -> bytes:
    return json.dumps({k: v for k, v in json.loads(payload).items() if k != "sig"}).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (None, unsigned, "unsigned"),
        (None, lambda p: resign(p, sig=None), "unsigned"),
        (None, lambda p: resign(p, sig="0" * 64), "bad signature"),
        (None, lambda p: resign(p, sig="é" * 64), "bad signature"),
        (None, lambda p: resign(p, sig=64), "bad signature"),
        (None, lambda p: resign(p, version=9_999_999_999_999), "bad signature"),
        (None, lambda p: resign(p, doors=None), "bad signature"),
        ("edgeface/fleet/office/people/bob", lambda p: p, "bad signature"),  # moved to another name
        (None, lambda p: b"{not json", "not JSON"),
        (None, lambda p: b"[1]", "not a JSON object"),
        (None, lambda p: b"x" * (5 * 2**20), "bytes, more than"),
    ],
    ids=[
        "unsigned",
        "null-sig",
        "wrong-sig",
        "non-ascii-sig",
        "number-sig",
        "version-raised",
        "doors-dropped",
        "moved",
        "not-json",
        "array",
        "huge",
    ],
)
def test_an_unsigned_tampered_or_moved_record_is_refused(
    topic: str | None, payload: Callable[[bytes], bytes], reason: str
) -> None:
    signed_topic, signed = encode_record(ann(), "office", KEY)
    with pytest.raises(RecordRefused, match=reason):
        decode_record(topic or signed_topic, payload(signed), "office", KEY)


def test_a_record_of_another_site_or_key_is_refused_even_on_this_sites_topic() -> None:
    _, other_site = encode_record(ann(), "warehouse", KEY)  # same key, another site
    with pytest.raises(RecordRefused, match="bad signature"):  # the topic is signed: moving it breaks the signature
        decode_record("edgeface/fleet/office/people/ann", other_site, "office", KEY)
    topic, payload = encode_record(ann(), "warehouse", KEY)
    with pytest.raises(RecordRefused, match="for site 'warehouse', this door is in site 'office'"):
        decode_record(topic, payload, "office", KEY)
    topic, payload = encode_record(ann(), "office", HmacKey(b"another-key-0123456789"))
    with pytest.raises(RecordRefused, match="bad signature"):
        decode_record(topic, payload, "office", KEY)


def test_a_signed_but_malformed_record_is_refused_with_the_field_at_fault() -> None:
    broken = ann(templates=(TemplateRecord(*MODEL, np.array([np.nan], np.float32)),))
    topic, payload = encode_record(broken, "office", KEY)
    with pytest.raises(RecordRefused, match="NaN"):
        decode_record(topic, payload, "office", KEY)
    bad_name = PersonRecord("ann/../x", 1, 1.0)
    topic, payload = encode_record(bad_name, "office", KEY)
    with pytest.raises(RecordRefused, match="names"):
        decode_record(topic, payload, "office", KEY)


def test_record_topics_name_one_person_of_one_site() -> None:
    topics = FleetTopics("office")
    assert topics.name_of("edgeface/fleet/office/people/Ann Lee") == "Ann Lee"
    assert topics.name_of("edgeface/fleet/home/people/ann") is None
    assert topics.name_of("edgeface/fleet/office/people/a/b") is None
    assert topics.door("front") == "edgeface/fleet/office/doors/front"


def test_the_digest_depends_on_every_name_and_version_and_not_on_their_order() -> None:
    assert digest({"ann": 1, "bob": 2}) == digest({"bob": 2, "ann": 1})
    assert digest({"ann": 1, "bob": 2}) != digest({"ann": 1, "bob": 3})
    assert digest({"ann": 1}) != digest({"ann": 1, "bob": 2})


def ed25519_fleet(tmp_path: Path, name: str = "admin.key") -> FleetConfig:
    path = tmp_path / name
    public = generate_keypair(path)
    return FleetConfig(enabled=True, signature="ed25519", public_key=public, private_key_file=str(path))


def test_with_ed25519_the_admin_signs_and_a_door_holding_only_the_public_key_verifies(tmp_path: Path) -> None:
    admin = ed25519_fleet(tmp_path)
    assert stat.S_IMODE((tmp_path / "admin.key").stat().st_mode) == 0o600
    door = admin.model_copy(update={"private_key_file": None})
    topic, payload = encode_record(ann(), "office", record_key(admin, signing=True))
    assert decode_record(topic, payload, "office", record_key(door)).version == ann().version
    with pytest.raises(ConfigError, match="holds only the public key"):
        encode_record(ann(), "office", record_key(door))
    with pytest.raises(ConfigError, match=r"fleet\.private_key_file: the admin signs"):
        record_key(door, signing=True)


def test_with_ed25519_a_record_signed_by_another_key_or_with_the_hmac_key_is_refused(tmp_path: Path) -> None:
    door = record_key(ed25519_fleet(tmp_path))
    impostor = record_key(ed25519_fleet(tmp_path, "impostor.key"), signing=True)
    for key in (impostor, KEY):
        topic, payload = encode_record(ann(), "office", key)
        with pytest.raises(RecordRefused, match="bad signature"):
            decode_record(topic, payload, "office", door)


def test_ed25519_keys_that_do_not_fit_are_refused_naming_the_key(tmp_path: Path) -> None:
    admin = ed25519_fleet(tmp_path)
    other = ed25519_fleet(tmp_path, "other.key")
    mixed = admin.model_copy(update={"private_key_file": other.private_key_file})
    with pytest.raises(ConfigError, match=r"does not belong to fleet\.public_key"):
        record_key(mixed, signing=True)
    with pytest.raises(ConfigError, match=r"fleet\.public_key: not an Ed25519 public key"):
        record_key(admin.model_copy(update={"public_key": "c2hvcnQ="}))
    Path(str(admin.private_key_file)).chmod(0o640)
    with pytest.raises(
        ConfigError, match=r"^fleet\.private_key_file: .* may be read by others \(mode bits 0o40\); chmod 600$"
    ):
        record_key(admin, signing=True)
    with pytest.raises(EdgefaceError, match="cannot create the private key file"):
        generate_keypair(tmp_path / "admin.key")  # never over an existing key
    with pytest.raises(ValueError, match="needs public_key"):
        FleetConfig(enabled=True, signature="ed25519")
