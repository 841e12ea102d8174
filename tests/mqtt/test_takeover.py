"""Another client connecting with a door's client id: the door says so once, clearly, and keeps reconnecting."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edgeface.config import MqttConfig
from edgeface.mqtt.client import MqttPublisher
from edgeface.mqtt.fleetsync import FleetSync
from edgeface.mqtt.takeover import FLAPS
from edgeface.storage.outbox import Outbox
from tests.mqtt.test_fleet_sync import MODEL, member
from tests.support.broker import Broker, fresh_device_id
from tests.support.fleet import fresh_site
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow


def take_over(broker: Broker, client_id: str, times: int) -> None:
    """Connect as ``client_id`` ``times`` times, a moment apart, as the attack in the issue did every 2 s."""
    for _ in range(times):
        thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        thief.connect(broker.host, broker.port)
        thief.loop_start()
        time.sleep(1.1)  # the door reconnects meanwhile (its back-off is 1 s) and knocks the thief off
        thief.disconnect()
        thief.loop_stop()


def takeover_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "taking its session over" in r.getMessage()]


def test_a_door_whose_client_id_is_taken_over_says_so_once(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    device = fresh_device_id()
    cfg = MqttConfig(host=broker.host, port=broker.port, keepalive=5)
    caplog.set_level(logging.INFO)
    with (
        Outbox(tmp_path / "outbox.db", 10) as outbox,
        MqttPublisher(cfg, outbox, device_id=device, reconnect_delay=(1, 1)) as publisher,
    ):
        publisher.start()
        assert publisher.wait_connected(10)
        take_over(broker, f"edgeface-{device}", FLAPS + 1)
        wait_until(lambda: publisher.connected, 10, "the door to be back")
    assert len(takeover_lines(caplog)) == 1
    assert len([r for r in caplog.records if "lost the connection" in r.getMessage()]) <= FLAPS


def test_the_fleet_agent_whose_client_id_is_taken_over_says_so_once(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    front = member(tmp_path / "front", broker, fresh_site())
    caplog.set_level(logging.INFO)
    with FleetSync(front, MODEL, reconnect_delay=(1, 1)) as sync:
        assert sync.wait_synced(10)
        take_over(broker, f"edgeface-{front.device_id}-fleet", FLAPS + 1)
        assert sync.wait_synced(10)
    assert len(takeover_lines(caplog)) == 1
    assert len([r for r in caplog.records if "lost the broker" in r.getMessage()]) <= FLAPS
