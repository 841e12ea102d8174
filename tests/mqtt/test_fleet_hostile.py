"""Records anyone on the broker can publish: each is one refusal, and none keeps a door from the admin's word.

A door of each test is a real :class:`FleetSync` on the session's mosquitto, and the attacker a plain
client publishing to the site's record topics without the key.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edgeface.config import Config
from edgeface.mqtt.fleet import MAX_RECORD_BYTES, HmacKey, RecordRefused, decode_record
from edgeface.mqtt.fleetsync import FleetSync
from edgeface.mqtt.intake import WARNINGS_PER_PERIOD
from edgeface.ops.doctor import check_fleet
from edgeface.ops.fleet import pull, push, status
from edgeface.storage.people import Store
from tests.mqtt.test_fleet_sync import DIM, MODEL, converged, door, enrol, member
from tests.support.broker import Broker, Collector
from tests.support.fleet import DEEP_JSON, HUGE_INT, KEY, fresh_site
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow


def people(cfg: Config) -> list[str]:
    with Store(cfg.store_path) as store:
        return [p.name for p in store.people()]


def recognised(cfg: Config) -> list[str]:
    """The people the door's gallery holds: whom it can let in."""
    with Store(cfg.store_path) as store:
        return sorted(store.gallery(MODEL, DIM).names)


def remove(admin: Config, name: str) -> None:
    with Store(admin.store_path) as store:
        assert store.remove_person(name)
    push(admin, [name])


def site_with(tmp_path: Path, broker: Broker, *names: str) -> tuple[str, Config, Config]:
    """A new site whose admin has pushed ``names``, and a door that has taken them once and is off again."""
    site = fresh_site()
    admin, front = member(tmp_path / "admin", broker, site, "admin"), member(tmp_path / "front", broker, site)
    enrol(admin, *names)
    push(admin, [])
    with door(front) as sync:
        wait_until(converged(sync, admin), 10, f"front to hold {names}")
    return site, admin, front


def retain(broker: Broker, topic: str, payload: bytes) -> None:
    """Someone without the key leaves ``payload`` on ``topic`` as the broker's retained copy."""
    with Collector(broker, ["edgeface/unused"]) as attacker:
        attacker.send(topic, payload, retain=True)


@contextmanager
def republishing(broker: Broker, topic: str, payload: bytes, every: float = 0.2) -> Iterator[None]:
    """An attacker publishing ``payload`` (retained) on ``topic`` every ``every`` seconds."""
    stop = threading.Event()
    with Collector(broker, ["edgeface/unused"]) as attacker:

        def run() -> None:
            while not stop.wait(every):
                attacker.send(topic, payload, retain=True)

        thread = threading.Thread(target=run)
        attacker.send(topic, payload, retain=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


@pytest.mark.parametrize("poison", [DEEP_JSON, HUGE_INT], ids=["nested-100000-deep", "integer-5000-digits"])
def test_a_record_no_parser_can_read_is_refused_like_any_other(poison: bytes) -> None:
    with pytest.raises(RecordRefused, match="not JSON"):
        decode_record("edgeface/fleet/office/people/zz", poison, "office", HmacKey(KEY.encode()))


def test_a_poisoned_record_on_another_topic_does_not_stop_a_removal_at_a_door_coming_back(
    tmp_path: Path, broker: Broker
) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann", "lin")
    remove(admin, "lin")
    retain(broker, f"edgeface/fleet/{site}/people/zz", DEEP_JSON)
    retain(broker, f"edgeface/fleet/{site}/people/zy", HUGE_INT)
    with door(front) as sync:
        wait_until(converged(sync, admin), 10, "front to drop lin")
        assert sync.intake.refused == 2
    assert people(front) == recognised(front) == ["ann"]


def test_a_record_republished_every_fifth_of_a_second_does_not_block_the_admins_pushes(
    tmp_path: Path, broker: Broker
) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann", "lin")
    with door(front) as sync, republishing(broker, f"edgeface/fleet/{site}/people/zz", HUGE_INT):
        remove(admin, "lin")
        wait_until(converged(sync, admin), 10, "front to drop lin under the flood")
    assert recognised(front) == ["ann"]


def test_pull_and_status_count_poisoned_records_as_refusals(tmp_path: Path, broker: Broker) -> None:
    site = fresh_site()
    admin, back = member(tmp_path / "admin", broker, site, "admin"), member(tmp_path / "back", broker, site)
    enrol(admin, "ann", "lin")
    push(admin, [])
    remove(admin, "lin")
    retain(broker, f"edgeface/fleet/{site}/people/zz", DEEP_JSON)
    retain(broker, f"edgeface/fleet/{site}/doors/zz", DEEP_JSON)
    pulled = pull(back, MODEL)
    assert (pulled.applied, pulled.refused, pulled.people) == (2, 1, 1)
    state = status(admin)
    assert (state.people, state.records, state.refused) == (1, 2, 2)


def test_a_fleet_person_whose_record_is_overwritten_without_the_key_is_withheld_until_confirmed(
    tmp_path: Path, broker: Broker
) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann", "lin")
    # lin's removal is pushed while the door is away, and then overwritten by someone without the key:
    # the door cannot learn of the removal, but it no longer lets in someone it cannot confirm.
    remove(admin, "lin")
    retain(broker, f"edgeface/fleet/{site}/people/lin", DEEP_JSON)
    with door(front):
        wait_until(lambda: recognised(front) == ["ann"], 10, "front to withhold lin")
        assert people(front) == ["ann", "lin"]  # held, not removed: only the admin's record removes
        with Store(front.store_path) as store:
            assert "refuses" in store.withheld()["lin"]
        push(admin, ["lin"])  # the admin's tombstone again: now the door takes it
        wait_until(lambda: people(front) == ["ann"], 10, "front to remove lin")
    assert pull(front, MODEL).withheld == 0


def test_a_withheld_person_is_released_when_the_admins_record_is_taken_again(tmp_path: Path, broker: Broker) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann")
    retain(broker, f"edgeface/fleet/{site}/people/ann", HUGE_INT)
    with door(front):
        wait_until(lambda: recognised(front) == [], 10, "front to withhold ann")
        push(admin, ["ann"])
        wait_until(lambda: recognised(front) == ["ann"], 10, "front to let ann in again")


def test_a_record_over_the_size_cap_never_reaches_a_door_or_pull(tmp_path: Path, broker: Broker) -> None:
    site, _, front = site_with(tmp_path, broker, "ann")
    # 2 MiB of valid-looking JSON: before the cap a door buffered, parsed and refused it (4 MiB passed).
    retain(broker, f"edgeface/fleet/{site}/people/zz", b'"' + b"x" * (2 * MAX_RECORD_BYTES) + b'"')
    with door(front) as sync:
        assert sync.intake.refused == 0, "the broker sent the door a packet over its Maximum Packet Size"
    pulled = pull(front, MODEL)
    assert (pulled.unchanged, pulled.refused) == (1, 0)
    assert "records up to 1024 KiB" in check_fleet(front).detail


def test_a_flood_of_forged_records_is_a_few_warning_lines_and_every_one_is_counted(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    site, _, front = site_with(tmp_path, broker, "ann")
    with Collector(broker, ["edgeface/unused"]) as attacker:
        for i in range(300):
            attacker.send(f"edgeface/fleet/{site}/people/forged{i}", b'{"sig": "00"}', retain=True)
    caplog.set_level(logging.WARNING, "edgeface.mqtt.fleetsync")
    with door(front) as sync:
        wait_until(lambda: sync.status().refused == 300, 10, "every forged record counted")
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == WARNINGS_PER_PERIOD
    assert lines[-1].endswith("more are counted, not logged")


def test_a_removal_erased_from_the_broker_without_the_key_withholds_the_person_at_a_door_that_missed_it(
    tmp_path: Path, broker: Broker
) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann", "alex")
    back = member(tmp_path / "back", broker, site)
    pull(back, MODEL)
    with door(back):  # back is on when alex is removed: it takes the tombstone and remembers it
        remove(admin, "alex")
        wait_until(lambda: people(back) == ["ann"], 10, "back to remove alex")
    retain(broker, f"edgeface/fleet/{site}/people/alex", b"")  # mosquitto_pub -r -n: no key needed
    with door(front):  # front was off: it never saw the removal, and now the broker has nothing of alex
        wait_until(lambda: recognised(front) == ["ann"], 10, "front to withhold alex")
        with Store(front.store_path) as store:
            assert "no record" in store.withheld()["alex"]
    with door(back):
        assert people(back) == ["ann"], "a door that applied a removal keeps it"
    assert pull(front, MODEL).withheld == 1
    assert status(admin).missing == ["alex"]
    push(admin, [])  # the admin re-publishes everything it holds, the lost removal among it
    assert status(admin).missing == []
    with door(front):
        wait_until(lambda: people(front) == ["ann"], 10, "front to remove alex")
    assert recognised(front) == ["ann"]


def test_an_admin_daemon_re_publishes_a_removal_erased_from_the_broker(tmp_path: Path, broker: Broker) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann", "alex")
    remove(admin, "alex")
    with FleetSync(admin, MODEL) as watch:
        assert watch.wait_synced(10)
        retain(broker, f"edgeface/fleet/{site}/people/alex", b"")
        wait_until(lambda: status(admin).missing == [], 10, "the admin to re-publish alex's removal")
    with door(front):
        wait_until(lambda: people(front) == ["ann"], 10, "front to remove alex")


def test_a_forged_door_status_is_marked_unsigned_and_one_on_another_doors_topic_refused(
    tmp_path: Path, broker: Broker
) -> None:
    site, admin, front = site_with(tmp_path, broker, "ann")
    with door(front) as sync:
        forged = json.loads(sync.status().to_json(f"edgeface/fleet/{site}/doors/x", HmacKey(b"not-the-key-12345678")))
    retain(broker, f"edgeface/fleet/{site}/doors/phantom", json.dumps({**forged, "device": "phantom"}).encode())
    retain(broker, f"edgeface/fleet/{site}/doors/elsewhere", json.dumps(forged).encode())
    state = status(admin)
    assert {d.device for d, _ in state.doors} == {front.device_id, "phantom"}
    assert state.unsigned == ["phantom"] and state.refused == 1
