"""``edgeface doctor``'s broker check: it connects as the daemon would and says what the broker caps."""

from __future__ import annotations

from collections.abc import Callable

from edgeface.config import Config, MqttConfig
from edgeface.ops.doctor import check_broker
from tests.support.broker import Broker, free_port


def test_the_broker_check_names_the_packet_cap_the_broker_announces(make_broker: Callable[..., Broker]) -> None:
    capped = make_broker(extra="max_packet_size 65536\n")
    check = check_broker(Config(mqtt=MqttConfig(host=capped.host, port=capped.port)))
    assert check.ok and check.detail.endswith("accepted the connection; it caps packets at 65536 bytes")


def test_the_broker_check_says_when_the_broker_sets_no_cap(broker: Broker) -> None:
    check = check_broker(Config(mqtt=MqttConfig(host=broker.host, port=broker.port)))
    assert check.ok and "sets no packet cap (max_packet_size in mosquitto.conf" in check.detail


def test_the_broker_check_fails_with_the_reason_when_nothing_listens() -> None:
    check = check_broker(Config(mqtt=MqttConfig(host="127.0.0.1", port=free_port())), timeout=2.0)
    assert not check.ok and "MQTT broker 127.0.0.1:" in check.detail
