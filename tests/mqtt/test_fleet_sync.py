"""Fleet sync on real brokers, without the frame loop: stores converge, across bridged brokers and over TLS."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeface.config import Config, FleetConfig, MqttConfig, TlsConfig
from edgeface.errors import ConfigError, EdgefaceError
from edgeface.models.checksums import file_sha256
from edgeface.mqtt.fleet import digest
from edgeface.mqtt.fleetsync import FleetSync
from edgeface.ops.doctor import check_fleet
from edgeface.ops.fleet import push, status
from edgeface.storage.people import Store
from tests.support.broker import Broker, fresh_device_id
from tests.support.cli import edgeface
from tests.support.configs import mqtt_section, write_config
from tests.support.fleet import KEY, fleet_section, fresh_site
from tests.support.models import REPO_MODELS
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

PROFILE = Config().profile
MODEL = (PROFILE.name, file_sha256(REPO_MODELS / PROFILE.model))
"""The embedder the repo's doors run: doctor reads its real file."""
DIM = PROFILE.output_dim


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def member(folder: Path, broker: Broker, site: str, role: str = "door", **mqtt: Any) -> Config:
    """A device of ``site``: its own store under ``folder``, on ``broker``."""
    return Config(
        device_id=fresh_device_id(role),
        models_dir=REPO_MODELS,
        state_dir=folder / "state",
        mqtt=MqttConfig(host=broker.host, port=broker.port, keepalive=5, **mqtt),
        fleet=FleetConfig(enabled=True, site=site, key=KEY, role=role),  # type: ignore[arg-type]
    )


def enrol(cfg: Config, *names: str, model: tuple[str, str] = MODEL) -> None:
    with Store(cfg.store_path) as store:
        for seed, name in enumerate(names):
            store.add_template(name, unit(seed), model)


def fingerprint(cfg: Config) -> str:
    with Store(cfg.store_path) as store:
        return digest(store.versions())


@contextmanager
def door(cfg: Config) -> Iterator[FleetSync]:
    with FleetSync(cfg, MODEL) as sync:
        assert sync.wait_synced(10), "the door did not take the retained records"
        yield sync


def converged(sync: FleetSync, admin: Config) -> Callable[[], bool]:
    return lambda: sync.status().digest == fingerprint(admin)


def test_a_door_on_each_side_of_a_mosquitto_bridge_converges(
    tmp_path: Path, make_broker: Callable[..., Broker]
) -> None:
    site = fresh_site()
    here = make_broker()
    there = make_broker(
        extra=f"connection to-{here.port}\naddress {here.host}:{here.port}\ntopic edgeface/fleet/# both 1\n"
        "restart_timeout 1\n"
    )
    admin = member(tmp_path / "admin", here, site, "admin")
    near, far = member(tmp_path / "near", here, site), member(tmp_path / "far", there, site)
    enrol(admin, "ann", "bob")
    push(admin, [])
    with door(near) as near_sync, door(far) as far_sync:
        for sync in (near_sync, far_sync):
            wait_until(converged(sync, admin), 15, f"{sync.device_id} to hold ann and bob")
        with Store(admin.store_path) as store:
            store.remove_person("bob")
        enrol(admin, "cat")
        push(admin, ["bob", "cat"])
        for sync in (near_sync, far_sync):
            wait_until(converged(sync, admin), 15, f"{sync.device_id} to drop bob and take cat")
        # The far door's status crossed the bridge back: the admin sees both doors in sync.
        both = {near.device_id, far.device_id}
        wait_until(
            lambda: {d.device for d, ok in status(admin).doors if ok} == both, 10, "both doors in sync at the admin"
        )
    with Store(far.store_path) as store:
        assert [p.name for p in store.people()] == ["ann", "cat"]


def test_a_door_that_was_away_takes_the_changes_and_removals_when_it_reconnects(tmp_path: Path, broker: Broker) -> None:
    site = fresh_site()
    admin, front = member(tmp_path / "admin", broker, site, "admin"), member(tmp_path / "front", broker, site)
    enrol(admin, "ann", "bob")
    push(admin, [])
    with door(front) as sync:
        wait_until(converged(sync, admin), 10, "front to hold ann and bob")
    with Store(admin.store_path) as store:
        store.remove_person("ann")
    enrol(admin, "cat")
    push(admin, [])
    with door(front) as sync:
        wait_until(converged(sync, admin), 10, "front to drop ann and take cat")
        assert sync.intake.refused == 0
    with Store(front.store_path) as store:
        assert [p.name for p in store.people()] == ["bob", "cat"]


def test_pull_takes_the_sites_records_once_and_a_second_pull_changes_nothing(
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    site = fresh_site()
    for folder in ("admin", "back"):
        (tmp_path / folder).mkdir()
    admin = write_config(tmp_path / "admin" / "edgeface.yaml", mqtt=mqtt_section(broker), fleet=fleet_section(site))
    with pytest.raises(ConfigError, match="only the site's admin publishes"):
        push(member(tmp_path / "x", broker, site), [])
    admin.write_text(admin.read_text().replace("role: door", "role: admin"))
    enrol(Config.model_validate({"state_dir": tmp_path / "admin" / "state"}), "ann", "bob")
    assert edgeface(admin, "fleet", "push", "nobody") == 1
    assert "never enrolled here): nobody" in capsys.readouterr().err
    assert edgeface(admin, "fleet", "push", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"site": site, "people": 2, "tombstones": 0}

    back = write_config(tmp_path / "back" / "edgeface.yaml", mqtt=mqtt_section(broker), fleet=fleet_section(site))
    assert edgeface(back, "fleet", "pull", "--json") == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["applied"], first["unchanged"], first["refused"], first["people"]) == (2, 0, 0, 2)
    assert edgeface(back, "fleet", "pull") == 0
    assert "0 records taken, 2 already held, 0 refused; 2 people" in capsys.readouterr().out
    assert edgeface(admin, "fleet", "status", "--settle", "0.2") == 0
    out = capsys.readouterr().out
    assert f"site {site}: 2 people, 2 records" in out and "no door has announced itself yet" in out


def test_a_record_of_another_embedder_is_kept_out_of_the_gallery_and_named_by_doctor(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    site = fresh_site()
    admin, front = member(tmp_path / "admin", broker, site, "admin"), member(tmp_path / "front", broker, site)
    enrol(admin, "ann")
    enrol(admin, "bob", model=("arcface_r100", "c" * 64))
    push(admin, [])
    with caplog.at_level("WARNING", "edgeface.mqtt.fleetsync"), FleetSync(front, MODEL) as sync:
        wait_until(converged(sync, admin), 10, "front to hold ann and bob")
        assert sync.status().other_model == 1
    [warning] = [r.getMessage() for r in caplog.records if "bob's record" in r.getMessage()]
    assert "arcface_r100 (cccccccccccc) only; this door runs mobilefacenet_int8" in warning
    with Store(front.store_path) as store:
        assert store.gallery(MODEL, DIM).names == ("ann",)
    check = check_fleet(front)
    assert not check.ok and "bob" in check.detail and "another embedder" in check.detail


@pytest.fixture
def fleet_broker(make_broker: Callable[..., Broker], pki: Path, tmp_path: Path) -> Broker:
    """mosquitto with TLS, passwords and the ACL of docs/fleet.md for the site ``office``."""
    passwords = tmp_path / "passwords"
    tool = shutil.which("mosquitto_passwd")
    assert tool, "mosquitto_passwd is missing (it ships with mosquitto)"
    for n, user in enumerate(("admin", "front", "back")):
        subprocess.run([tool, *(["-c"] if n == 0 else []), "-b", str(passwords), user, f"{user}-password"], check=True)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "fleet.md").read_text()
    acl = doc.split("```acl\n")[1].split("```")[0]
    (tmp_path / "acl").write_text(acl)
    extra = (
        f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n"
        f"password_file {passwords}\nacl_file {tmp_path / 'acl'}\n"
    )
    return make_broker(anonymous=False, extra=extra)


def test_over_tls_with_the_documented_acl_doors_read_and_only_the_admin_writes(
    tmp_path: Path, fleet_broker: Broker, pki: Path
) -> None:
    def device(name: str, role: str = "door") -> Config:
        tls = TlsConfig(ca_file=str(pki / "ca.pem"))
        cfg = member(tmp_path / name, fleet_broker, "office", role, tls=tls, username=name, password=f"{name}-password")
        return cfg.model_copy(update={"device_id": name})

    admin, front, back = device("admin", "admin"), device("front"), device("back")
    enrol(admin, "ann")
    push(admin, [])
    with door(front) as front_sync:
        wait_until(converged(front_sync, admin), 10, "front to take ann over TLS")
        # A door that turns against the fleet cannot write a record: the broker drops it.
        rogue = device("front", "admin").model_copy(update={"state_dir": tmp_path / "rogue"})
        enrol(rogue, "mallory")
        with contextlib.suppress(EdgefaceError):  # mosquitto acknowledges a denied publish, or cuts the client off
            push(rogue, ["mallory"])
        with door(back) as back_sync:
            wait_until(converged(back_sync, admin), 10, "back to take ann")
        assert front_sync.status().digest == fingerprint(admin)
    for cfg in (front, back):
        with Store(cfg.store_path) as store:
            assert [p.name for p in store.people()] == ["ann"]


def test_an_ed25519_site_converges_and_only_the_holder_of_the_private_key_can_push(
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "admin").mkdir()
    config = write_config(tmp_path / "admin" / "edgeface.yaml")
    assert edgeface(config, "fleet", "keygen", str(tmp_path / "admin" / "fleet.key")) == 0
    public = capsys.readouterr().out.split("fleet.public_key for every device of the site: ")[1].strip()
    site = fresh_site()
    signed = {"signature": "ed25519", "public_key": public, "key": None}

    def device(name: str, role: str = "door", **fleet: Any) -> Config:
        cfg = member(tmp_path / name, broker, site, role)
        return cfg.model_copy(update={"fleet": cfg.fleet.model_copy(update={**signed, **fleet})})

    admin = device("admin", "admin", private_key_file=str(tmp_path / "admin" / "fleet.key"))
    front = device("front")
    enrol(admin, "ann", "bob")
    push(admin, [])
    with door(front) as sync:
        wait_until(converged(sync, admin), 10, "front to take ann and bob")
        assert sync.intake.refused == 0
    with pytest.raises(ConfigError, match=r"fleet\.private_key_file: the admin signs"):
        push(device("front", "admin"), [])
