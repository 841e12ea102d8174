"""A fleet on real brokers: three door daemons and the admin's CLI share one enrolment through mosquitto."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from edgeface.config import DecideConfig, FleetConfig
from edgeface.mqtt.fleet import HmacKey, encode_record
from edgeface.storage.records import PersonRecord
from tests.support.broker import Broker, Collector
from tests.support.cli import edgeface
from tests.support.configs import service_config
from tests.support.data import FACES
from tests.support.door import running_door
from tests.support.fleet import DEEP_JSON, KEY, admin_config, door_config, door_status, events, fresh_site
from tests.support.process import DaemonProcess
from tests.support.scenes import still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

JOE_ENROLLED = FACES / "joe_biden" / "1.jpg"
JOE_AT_THE_DOOR = FACES / "joe_biden" / "2.jpg"
ANN = FACES / "angelina_jolie" / "1.jpg"


def device_of(config: Path) -> str:
    return str(yaml.safe_load(config.read_text())["device_id"])


def unlocks(watch: Collector, device: str) -> int:
    return sum(m.payload == b"unlocked" for m in watch.messages(f"edgeface/{device}/door"))


def test_three_doors_follow_the_admins_enrolments_and_removals_and_refuse_forgeries(  # noqa: PLR0915 one story
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    site = fresh_site()
    admin = admin_config(tmp_path / "admin", broker, site)
    camera = still_frames(tmp_path / "camera", JOE_AT_THE_DOOR)
    configs = [door_config(tmp_path / f"door{i}", broker, site, camera) for i in range(3)]
    devices = [device_of(c) for c in configs]
    topics = [f"edgeface/{d}/#" for d in devices] + [f"edgeface/fleet/{site}/#"]
    with Collector(broker, topics) as watch:
        doors = [DaemonProcess(c) for c in configs]
        try:
            for door in doors:
                door.wait_for(r"fleet: 0 people, 0 records", 90)
            # The third door is down while the admin enrols and removes people.
            assert doors[2].terminate() == 0

            assert edgeface(admin, "enroll", "joe", str(JOE_ENROLLED)) == 0
            assert edgeface(admin, "enroll", "ann", str(ANN)) == 0
            assert edgeface(admin, "fleet", "push") == 0
            pushed = time.monotonic()
            for device in devices[:2]:
                wait_until(lambda d=device: events(watch, d, "granted", "joe"), 20, f"{device} to let joe in")
            assert time.monotonic() - pushed < 20
            first_joe = watch.messages(f"edgeface/fleet/{site}/people/joe")[0].payload

            assert edgeface(admin, "people", "remove", "ann") == 0
            assert edgeface(admin, "fleet", "push", "ann") == 0
            for door in doors[:2]:
                door.wait_for(r"fleet: removed ann", 10)

            # Back up, the third door takes joe and ann's removal from the retained records.
            doors[2] = DaemonProcess(configs[2])
            wait_until(lambda: events(watch, devices[2], "granted", "joe"), 60, "the restarted door to let joe in")
            doors[2].wait_for(r"fleet: removed ann", 1)

            assert edgeface(admin, "people", "remove", "joe") == 0
            assert edgeface(admin, "fleet", "push", "joe") == 0
            for door in doors:
                door.wait_for(r"fleet: removed joe", 10)
                door.wait_for(r"people store: 0 people", 10, count=2)
            time.sleep(0.5)  # events decided before the reload may still be on their way
            granted = [len(events(watch, d, "granted")) for d in devices]
            opened = [unlocks(watch, d) for d in devices]
            unknown = [len(events(watch, d, "unknown")) for d in devices]
            for device, before in zip(devices, unknown, strict=True):
                more = lambda d=device, n=before: len(events(watch, d, "unknown")) > n  # noqa: E731
                wait_until(more, 10, f"{device} to call joe unknown")

            # Forged, replayed and other sites' records: each door refuses them, one line each.
            key = HmacKey(yaml.safe_load(admin.read_text())["fleet"]["key"].encode())
            joe = json.loads(first_joe)
            unsigned = {k: v for k, v in {**joe, "name": "mallory"}.items() if k != "sig"}
            _, elsewhere = encode_record(PersonRecord("joe", 2**50, time.time()), "elsewhere", key)
            _, wrong_key = encode_record(
                PersonRecord("mallory", 2**50, time.time()), site, HmacKey(b"not-the-site-key-123")
            )
            people = f"edgeface/fleet/{site}/people"
            watch.send(f"{people}/joe", first_joe)  # a replay of joe's enrolment, older than his removal
            watch.send(f"{people}/mallory", json.dumps(unsigned))
            watch.send(f"{people}/joe", elsewhere)
            watch.send(f"{people}/mallory", wrong_key)
            for door in doors:
                door.wait_for(rf"refused the record on {people}/joe: stale \(version \d+, this door holds \d+\)", 10)
                door.wait_for(rf"refused the record on {people}/mallory: unsigned", 10)
                door.wait_for(rf"refused the record on {people}/joe: bad signature", 10)
                door.wait_for(rf"refused the record on {people}/mallory: bad signature", 10)
            for device in devices:
                wait_until(lambda d=device: (door_status(watch, site, d) or {}).get("refused") == 4, 10, "refusals")
            time.sleep(1.5)  # long enough for a door that took joe back to let him in (1 s cooldown)
            assert [len(events(watch, d, "granted")) for d in devices] == granted
            assert [unlocks(watch, d) for d in devices] == opened

            capsys.readouterr()
            assert edgeface(admin, "fleet", "status", "--json") == 0
            state = json.loads(capsys.readouterr().out)
            assert (state["site"], state["people"], state["records"], state["refused"]) == (site, 0, 2, 0)
            doors_seen = {d["device"]: d for d in state["doors"]}
            assert set(doors_seen) == set(devices)
            for device in devices:
                assert doors_seen[device]["in_sync"] and doors_seen[device]["people"] == 0
                assert doors_seen[device]["refused"] == 4 and doors_seen[device]["last_sync"] is not None
            for door in doors:
                assert door.terminate() == 0
        finally:
            for door in doors:
                door.kill()


def test_each_door_enforces_the_doors_and_schedule_a_persons_record_lists(tmp_path: Path, broker: Broker) -> None:
    site = fresh_site()
    admin = admin_config(tmp_path / "admin", broker, site)
    camera = still_frames(tmp_path / "camera", JOE_AT_THE_DOOR)
    fleet = FleetConfig(enabled=True, site=site, key=KEY)
    cfg = service_config(tmp_path / "door", camera, broker, fleet=fleet, decide=DecideConfig(cooldown_seconds=0.5))
    assert edgeface(admin, "enroll", "joe", str(JOE_ENROLLED)) == 0
    assert edgeface(admin, "fleet", "rules", "joe", "--doors", "garage") == 0
    assert edgeface(admin, "fleet", "push") == 0
    with running_door(cfg, watch=broker) as door:
        denied = door.wait_event("denied")
        assert (denied["person"], denied["reason"]) == ("joe", "schedule")
        assert not [e for e in door.events() if e["type"] == "granted"]
        assert True not in door.pin_levels()
        assert edgeface(admin, "fleet", "rules", "joe", "--doors", "garage", cfg.device_id) == 0
        assert edgeface(admin, "fleet", "push", "joe") == 0
        assert door.wait_event("granted")["person"] == "joe"


def test_a_door_restarted_after_a_removal_does_not_let_the_removed_person_in_past_a_poisoned_record(
    tmp_path: Path, broker: Broker
) -> None:
    site = fresh_site()
    admin = admin_config(tmp_path / "admin", broker, site)
    camera = still_frames(tmp_path / "camera", JOE_AT_THE_DOOR)
    fleet = FleetConfig(enabled=True, site=site, key=KEY)
    # Every decision reported, a stranger's too: the door's verdict on joe's face shows in its events.
    decide = DecideConfig(
        cooldown_seconds=0.5, unknown_cooldown_seconds=0.5, stranger_cooldown_seconds=0, stranger_memory_seconds=0
    )
    cfg = service_config(tmp_path / "door", camera, broker, fleet=fleet, decide=decide)
    assert edgeface(admin, "enroll", "joe", str(JOE_ENROLLED)) == 0
    assert edgeface(admin, "fleet", "push") == 0
    with running_door(cfg, watch=broker) as door:
        assert door.wait_event("granted")["person"] == "joe"
    # While the door is off: joe is removed, and anyone on the broker retains a record no parser reads.
    assert edgeface(admin, "people", "remove", "joe") == 0
    assert edgeface(admin, "fleet", "push", "joe") == 0
    with Collector(broker, [f"edgeface/fleet/{site}/doors/#"]) as watch:
        watch.send(f"edgeface/fleet/{site}/people/zz", DEEP_JSON, retain=True)
        with running_door(cfg, watch=broker) as door:
            # The door announces its state once it has taken the retained records: joe's removal among them.
            refused = lambda: (door_status(watch, site, cfg.device_id) or {}).get("refused") == 1  # noqa: E731
            wait_until(refused, 15, "the door to take the retained records")
            time.sleep(1.0)  # the loop reloads its gallery, and events decided before that are on their way
            seen = len(door.events())
            wait_until(lambda: len(door.events()) >= seen + 3, 15, "the door to decide on joe's face again")
            assert {e["type"] for e in door.events()[seen:]} == {"unknown"}
