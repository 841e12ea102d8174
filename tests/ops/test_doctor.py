"""``edgeface doctor``'s checks that talk to something: the broker (it connects as the daemon would and says what
the broker caps), the GPIO it would drive, and what the Pi camera needs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeface.capture.picamera import picamera2_missing
from edgeface.config import CameraConfig, Config, MqttConfig, RelayConfig, load_config
from edgeface.ops.doctor import check_broker, check_camera, check_gpio, check_store
from tests.support.broker import Broker, free_port
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import LIN


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


def test_the_gpio_check_names_the_chip_and_line_it_will_drive() -> None:
    check = check_gpio(Config(relay=RelayConfig(chip=1, pin=105, pin_factory="mock")))
    assert check.ok
    assert check.detail == (
        "MockChipFactory for line 105 of /dev/gpiochip1 (mock gpiochip1, 1024 lines) (mock: the relay will not move)"
    )
    bcm = check_gpio(Config(relay=RelayConfig(pin=22, pin_factory="mock")))
    assert bcm.detail == "MockFactory for GPIO22 (mock: the relay will not move)"


def test_the_gpio_check_fails_naming_what_the_chip_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lgpio", None)  # as on a machine without it, even if installed here
    check = check_gpio(Config(relay=RelayConfig(chip=0, pin=148, pin_factory="lgpio")))
    assert not check.ok
    assert "gpiochip0" in check.detail and "python3-lgpio" in check.detail


def test_the_camera_check_names_what_picamera2_lacks_here() -> None:
    check = check_camera(Config(camera=CameraConfig(source="picamera2")))
    assert not check.ok
    assert check.detail == "picamera2: " + "; ".join(picamera2_missing())
    assert "sudo deploy/install.sh" in check.fix and "--system-site-packages" in check.fix


def test_the_store_check_counts_one_person_as_a_person(tmp_path: Path) -> None:
    config = write_config(tmp_path / "edgeface.yaml")
    assert edgeface(config, "enroll", "lin_manuel_miranda", str(LIN)) == 0
    check = check_store(load_config(config))
    assert check.ok and check.detail.endswith(", 1 person enrolled"), check.detail
