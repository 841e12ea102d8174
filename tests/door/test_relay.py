"""The door relay on gpiozero's MockFactory: pin levels asserted with their timestamps."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from edgeface.cli import main, relay_lock_args
from edgeface.cli.lock import RELAY_LOCK_BROKER_SECONDS
from edgeface.config import RelayConfig
from edgeface.door import relay as relay_module
from edgeface.door.relay import DoorRelay, make_pin_factory
from edgeface.errors import ConfigError
from edgeface.values import DoorState
from tests.support.broker import Broker, Collector, free_port, fresh_device_id
from tests.support.cli import edgeface, run_edgeface
from tests.support.configs import mqtt_section, write_config

PIN = 17
PULSE = 0.2


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.close()


def door_pin(factory: MockFactory) -> MockPin:
    """The MockPin behind GPIO17; MockFactory hands out the same object the relay drives."""
    pin = factory.pin(PIN)
    assert isinstance(pin, MockPin)
    return pin


def assert_levels(pin: MockPin, expected: list[tuple[float, bool]]) -> None:
    # assert_states_and_times zips the lists, so it would pass a pin with missing changes: count first.
    assert [s.state for s in pin.states] == [state for _, state in expected]
    pin.assert_states_and_times(expected)


def test_starts_locked_with_the_pin_low(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory) as relay:
        assert relay.state is DoorState.LOCKED
        assert door_pin(factory).state is False
        assert door_pin(factory).function == "output"


def test_pulse_raises_the_pin_then_drops_it_after_the_pulse(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory) as relay:
        pin = door_pin(factory)
        pin.clear_states()
        started = time.monotonic()
        relay.pulse(PULSE)
        assert time.monotonic() - started < 0.05, "pulse must not block"
        assert relay.state.value == "unlocked"
        time.sleep(PULSE + 0.15)
        assert relay.state == DoorState.LOCKED
        assert_levels(pin, [(0.0, False), (0.0, True), (PULSE, False)])


def test_pulse_defaults_to_the_configured_length(factory: MockFactory) -> None:
    cfg = RelayConfig(pin=PIN, pulse_seconds=PULSE, pin_factory="mock")
    with DoorRelay.from_config(cfg, factory) as relay:
        pin = door_pin(factory)
        pin.clear_states()
        relay.pulse()
        time.sleep(PULSE + 0.15)
        assert_levels(pin, [(0.0, False), (0.0, True), (PULSE, False)])


def test_active_low_board_inverts_the_pin_levels(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory, active_high=False) as relay:
        pin = door_pin(factory)
        assert pin.state is True, "locked is a high pin on an active-low board"
        pin.clear_states()
        relay.pulse(PULSE)
        time.sleep(PULSE + 0.15)
        assert_levels(pin, [(0.0, True), (0.0, False), (PULSE, True)])


def test_a_pulse_while_open_extends_it_without_a_flicker(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory) as relay:
        events: list[DoorState] = []
        relay.on_change(events.append)
        pin = door_pin(factory)
        pin.clear_states()
        relay.pulse(PULSE)
        time.sleep(0.1)
        relay.pulse(PULSE)  # now ends at 0.3 s
        relay.pulse(0.05)  # shorter than what is left: must not cut the open door short
        time.sleep(PULSE + 0.2)
        assert_levels(pin, [(0.0, False), (0.0, True), (0.1 + PULSE, False)])
        assert events == [DoorState.UNLOCKED, DoorState.LOCKED]


def test_lock_releases_at_once_and_the_old_timer_does_nothing(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory) as relay:
        pin = door_pin(factory)
        relay.pulse(PULSE)
        relay.lock()
        assert pin.state is False
        assert relay.state is DoorState.LOCKED
        pin.clear_states()
        time.sleep(PULSE + 0.1)
        assert_levels(pin, [(0.0, False)])


def test_close_during_a_pulse_leaves_the_pin_at_the_locked_level(factory: MockFactory) -> None:
    for active_high in (True, False):
        relay = DoorRelay(PIN, pin_factory=factory, active_high=active_high)
        pin = door_pin(factory)
        relay.pulse(5.0)
        assert pin.state is active_high
        relay.close()
        relay.close()  # idempotent
        locked_level = not active_high
        assert pin.state is locked_level
        assert pin.states[-1].state is locked_level
        assert relay.state is DoorState.LOCKED
        relay.lock()  # fail-secure calls are harmless after close
        with pytest.raises(RuntimeError, match="closed"):
            relay.pulse(PULSE)


def test_on_change_reports_unlocked_then_locked(factory: MockFactory) -> None:
    events: list[tuple[DoorState, bool]] = []
    with DoorRelay(PIN, pin_factory=factory) as relay:
        pin = door_pin(factory)
        relay.on_change(lambda state: events.append((state, pin.state)))
        relay.pulse(0.1)
        time.sleep(0.25)
        relay.lock()  # already locked: no event
    assert events == [(DoorState.UNLOCKED, True), (DoorState.LOCKED, False)]


def test_a_failing_callback_does_not_keep_the_door_open(factory: MockFactory, caplog: pytest.LogCaptureFixture) -> None:
    def broken(state: DoorState) -> None:
        raise OSError("broker gone")

    with DoorRelay(PIN, pin_factory=factory) as relay:
        relay.on_change(broken)
        relay.pulse(0.1)
        time.sleep(0.25)
        assert door_pin(factory).state is False
    assert sum("callback" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR) == 2


def test_invalid_pin_is_a_clear_error(factory: MockFactory) -> None:
    with pytest.raises(ConfigError, match=r"relay\.pin: 99 is not a GPIO pin"):
        DoorRelay(99, pin_factory=factory)


def test_pin_in_use_is_a_clear_error(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory), pytest.raises(ConfigError, match="GPIO17 is already in use"):
        DoorRelay(PIN, pin_factory=factory)


def test_bad_pulse_lengths_are_refused(factory: MockFactory) -> None:
    with DoorRelay(PIN, pin_factory=factory) as relay:
        for seconds in (0.0, -1.0, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="positive"):
                relay.pulse(seconds)
        assert door_pin(factory).state is False


def test_gpiozero_global_factory_is_left_alone(factory: MockFactory) -> None:
    before = gpiozero.Device.pin_factory
    with DoorRelay(PIN, pin_factory=factory) as relay:
        relay.pulse(0.05)
    assert gpiozero.Device.pin_factory is before


def test_make_pin_factory_mock_and_unknown() -> None:
    mock = make_pin_factory("mock")
    assert isinstance(mock, MockFactory)
    mock.close()
    with pytest.raises(ConfigError, match="unknown pin factory 'gpio'"):
        make_pin_factory("gpio")


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None, reason="lgpio is installed here")
def test_missing_gpio_library_names_the_install() -> None:
    with pytest.raises(ConfigError, match="python3-lgpio"):
        make_pin_factory("lgpio")


@pytest.mark.skipif(relay_module._is_raspberry_pi(), reason="real GPIO here")
def test_auto_off_a_pi_falls_back_to_the_mock_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Every real gpiozero factory is tried (and fails) on this machine.
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    caplog.set_level(logging.WARNING, logger="edgeface.door.relay")
    factory = make_pin_factory("auto")
    assert isinstance(factory, MockFactory)
    warnings = [r for r in caplog.records if r.name == "edgeface.door.relay" and r.levelno == logging.WARNING]
    # One short line, on every run and doctor of such a machine: what happened and how to quiet it.
    assert [w.getMessage() for w in warnings] == [
        "no GPIO library works here (tried lgpio, rpigpio, pigpio, native): the relay is simulated and will not "
        "move; relay.pin_factory: mock hides this warning"
    ]
    factory.close()


def test_auto_on_a_pi_without_gpio_library_refuses_to_pretend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(relay_module, "_REAL_FACTORIES", {"lgpio": ("no_such_gpio_module", "F", "lgpio")})
    monkeypatch.setattr(relay_module, "_is_raspberry_pi", lambda: True)
    with pytest.raises(ConfigError, match="no working GPIO library on this Raspberry Pi"):
        make_pin_factory("auto")


def test_auto_honours_gpiozero_pin_factory(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    factory = make_pin_factory("auto")
    assert isinstance(factory, MockFactory)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    factory.close()


def test_relay_lock_the_safety_command_loads_no_vision_stack_and_no_other_config_section(tmp_path: Path) -> None:
    # systemd runs it after every stop: it must be quick and small, so it may not pull in OpenCV or onnxruntime,
    # nor build the schema of sections it does not read (that is most of its start-up time).
    config = tmp_path / "edgeface.yaml"
    config.write_text(f"relay: {{pin_factory: mock}}\nmqtt: {{host: 127.0.0.1, port: {free_port()}}}\n")
    probe = (
        "import sys\n"
        "from edgeface.cli import main\n"
        f"rc = main(['--config', {str(config)!r}, 'relay', 'lock'])\n"
        "print(rc, sorted(m for m in ('cv2', 'onnxruntime', 'numpy') if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('edgeface.config.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-2:] == [
        "0 []",
        "['edgeface.config.base', 'edgeface.config.mqtt', 'edgeface.config.relay', 'edgeface.config.source']",
    ]


def test_relay_lock_reads_the_relay_section_as_the_daemon_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "edgeface.yaml", relay={"pin": 22, "active_high": False})
    assert edgeface(config, "relay", "lock") == 0
    assert capsys.readouterr().out.splitlines() == ["relay on GPIO22 locked"]


@pytest.mark.parametrize(
    ("relay", "problem"),
    [
        ({"pni": 22}, "relay.pni: Extra inputs are not permitted; did you mean 'relay.pin'?"),
        ({"pin": 40}, "relay.pin: Input should be less than or equal to 27 (a BCM GPIO number)"),
        ({"pin_factory": "gpio"}, "relay.pin_factory: Input should be 'auto', 'mock', 'lgpio'"),
    ],
)
def test_relay_lock_refuses_a_bad_relay_section_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], relay: dict[str, object], problem: str
) -> None:
    # Guessing would be worse than failing: GPIO17 driven low unlocks a door wired active-low.
    config = write_config(tmp_path / "edgeface.yaml", relay=relay)
    assert edgeface(config, "relay", "lock") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"edgeface: error: {config}: {problem}"), err


def test_relay_lock_still_locks_when_another_section_is_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The daemon refuses this file, but the door must still be locked after it stopped (fail secure).
    config = write_config(tmp_path / "edgeface.yaml", camera={"fsp": 5}, detector=3, web={"port": -1})
    assert edgeface(config, "relay", "lock") == 0
    out, err = capsys.readouterr()
    assert (out.splitlines(), err) == (["relay on GPIO17 locked"], "")


@pytest.mark.parametrize(
    ("sections", "problem"),
    [
        (
            {"mqtt": {"enabled": True, "prot": 1883}},
            "mqtt.prot: Extra inputs are not permitted; did you mean 'mqtt.port'?",
        ),
        (
            {"device_id": "no spaces", "mqtt": {"enabled": True, "host": "127.0.0.1", "port": free_port()}},
            "device_id: String should match pattern '^[A-Za-z0-9_-]{1,64}$'",
        ),
    ],
)
def test_relay_lock_with_a_broken_mqtt_section_or_device_id_locks_and_only_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sections: dict[str, object], problem: str
) -> None:
    config = write_config(tmp_path / "edgeface.yaml", **sections)
    assert edgeface(config, "relay", "lock") == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["relay on GPIO17 locked"]
    assert err.splitlines() == [f"edgeface: warning: not reporting the door locked: {config}: {problem}"]


def test_relay_lock_cannot_lock_from_a_file_that_is_not_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edgeface.yaml"
    config.write_text("relay: {pin: 17\n")
    assert edgeface(config, "relay", "lock") == 1
    assert capsys.readouterr().err.startswith(f"edgeface: error: {config}:2:1: not valid YAML")


def test_relay_lock_through_the_full_parser_is_the_same_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "--conf" is an abbreviation only the full parser accepts: the same lock, the same disregard for other sections.
    config = write_config(tmp_path / "edgeface.yaml", relay={"pin": 5}, camera={"fsp": 5})
    assert main(["--conf", str(config), "relay", "lock"]) == 0
    assert capsys.readouterr().out.splitlines() == ["relay on GPIO5 locked"]


@pytest.mark.parametrize(
    ("argv", "quick"),
    [
        (["relay", "lock"], True),
        (["-c", "x.yaml", "-vv", "relay", "lock"], True),
        (["--config=x.yaml", "relay", "lock"], True),
        (["relay", "lock", "--help"], False),
        (["--conf", "x.yaml", "relay", "lock"], False),  # an abbreviation: the full parser decides
        (["relay", "lcok"], False),
        (["run"], False),
        (["-c", "relay", "lock"], False),
        (["-c"], False),  # a usage error: said once, by the full parser
    ],
)
def test_only_a_plain_relay_lock_takes_the_quick_way(argv: list[str], quick: bool) -> None:
    assert (relay_lock_args(argv) is not None) is quick


def test_relay_lock_also_replaces_a_stale_retained_unlocked_on_the_broker(
    tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    # The daemon was killed during a pulse: the relay fell back to locked, the broker still says unlocked.
    device = fresh_device_id("lock")
    config = write_config(tmp_path / "edgeface.yaml", device_id=device, mqtt=mqtt_section(broker))
    door = f"edgeface/{device}/door"
    with Collector(broker, [door]) as sender:
        sender.send(door, b"unlocked", retain=True)
    assert edgeface(config, "relay", "lock") == 0
    assert capsys.readouterr().out.splitlines() == ["relay on GPIO17 locked", f"{door}: locked (retained)"]
    with Collector(broker, [door]) as later:
        (retained,) = later.wait(1)
    assert (retained.payload, retained.retain) == (b"locked", True)


def test_relay_lock_without_a_broker_still_locks_and_gives_up_on_mqtt_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 192.0.2.1 (TEST-NET-1) never answers: the connect hangs until the command's own bound.
    config = write_config(tmp_path / "edgeface.yaml", mqtt={"enabled": True, "host": "192.0.2.1", "port": 1883})
    started = time.monotonic()
    assert edgeface(config, "relay", "lock") == 0
    assert time.monotonic() - started < 3 * RELAY_LOCK_BROKER_SECONDS + 1
    out, err = capsys.readouterr()
    assert out.splitlines() == ["relay on GPIO17 locked"]
    assert err.startswith("edgeface: warning: could not report the door locked on edgeface/"), err


def test_a_gpiochip_line_is_driven_as_a_bcm_pin_is() -> None:
    # A Jetson's relay: line 105 of /dev/gpiochip1, on mock pins numbered as that chip's lines.
    cfg = RelayConfig(chip=1, pin=105, pin_factory="mock", pulse_seconds=PULSE)
    factory = make_pin_factory(cfg.pin_factory, cfg.chip)
    try:
        line = factory.pin(105)
        assert isinstance(line, MockPin) and line.info.name == "GPIO105"
        assert factory.board_info.find_pin("gpiochip1:105") is not None
        with DoorRelay.from_config(cfg, factory) as relay:
            assert line.state is False and line.function == "output"
            assert repr(relay) == "DoorRelay(gpiochip1 line 105, locked)"
            relay.pulse()
            assert line.state is True
            time.sleep(PULSE * 3)
            assert line.state is False and relay.state is DoorState.LOCKED
            relay.pulse(10)
        assert line.state is False, "closing locks, whatever pulse was running"
        assert [s.state for s in line.states] == [False, True, False, True, False]
    finally:
        factory.close()


def test_relay_lock_names_the_chip_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "edgeface.yaml", relay={"chip": 0, "pin": 148, "pin_factory": "mock"})
    assert edgeface(config, "relay", "lock") == 0
    assert capsys.readouterr().out.splitlines() == ["relay on gpiochip0 line 148 locked"]


def test_a_gpiochip_needs_lgpio_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lgpio", None)  # as on a machine without it, even if installed here
    for name in ("auto", "lgpio"):  # auto never falls back to the mock when a chip was asked for
        with pytest.raises(ConfigError, match=r"relay\.chip: driving gpiochip1 needs lgpio: apt install python3-lgpio"):
            make_pin_factory(name, 1)


@pytest.mark.parametrize(
    ("relay", "problem"),
    [
        (
            {"pin": 105},
            "less than or equal to 27 (a BCM GPIO number); to drive line 105 of a gpiochip (Jetson), also set",
        ),
        ({"chip": 1, "pin": 5, "pin_factory": "rpigpio"}, "chip is set, but pin_factory rpigpio numbers pins by"),
    ],
)
def test_a_pin_that_fits_no_numbering_is_refused(relay: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        RelayConfig.model_validate(relay)


@pytest.mark.parametrize(
    "text",
    [
        b"camera:\n  fps: 5\t\nrelay:\n  pin: 22\n  pin_factory: mock\n",  # a trailing tab elsewhere
        b"relay:\n  pin: 22\t\n  pin_factory: mock\n\t",  # ... and in the relay section, where it means nothing
        b"# caf\xe9 door\nmqtt: {enabled: false}\nrelay: {pin: 22, pin_factory: mock}\n",  # a Latin-1 byte in a comment
        b"camera: !!python/object/apply:os.system ['true']\nrelay:\n  pin: 22\n  pin_factory: mock\n",
    ],
    ids=["tab", "tab-in-relay", "latin-1", "python-tag"],
)
def test_relay_lock_locks_from_the_relay_section_when_the_rest_of_the_file_does_not_parse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: bytes
) -> None:
    config = tmp_path / "edgeface.yaml"
    config.write_bytes(text)
    assert edgeface(config, "relay", "lock") == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["relay on GPIO22 locked"]
    assert err == "" or (len(err.splitlines()) == 1 and err.startswith("edgeface: warning: not reporting"))


def test_relay_lock_names_a_broken_relay_section_in_a_file_that_does_not_parse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "edgeface.yaml"
    config.write_bytes(b"camera: !!python/name:os.system\nweb: {}\nrelay:\n  pin: [22\n")
    assert edgeface(config, "relay", "lock") == 1
    assert capsys.readouterr().err.splitlines() == [
        f"edgeface: error: {config}:5:1: not valid YAML (expected ',' or ']', but got '<stream end>')"
    ]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge"])
def test_relay_lock_refuses_a_config_that_is_not_a_file_at_once_in_one_line(tmp_path: Path, kind: str) -> None:
    # Run as systemd would, with the config in the environment: a FIFO must not hang it, nor /dev/zero fill memory.
    config = tmp_path / "edgeface.yaml"
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "huge":
        config.write_bytes(b"relay: {pin: 22}\n" + b"#" * (2 * 1024 * 1024))
    path = Path("/dev/zero") if kind == "dev-zero" else config
    done = run_edgeface("relay", "lock", timeout=20, env={"EDGEFACE_CONFIG": str(path)})
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"edgeface: error: {path}: "), done.stderr
