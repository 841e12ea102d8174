"""The MQTT contract, checked against a real mosquitto (see tests/support/broker.py).

Events: ``<prefix>/event``, JSON, QoS 1, not retained, each exactly once and in order, through
outages. Availability and door: retained. Commands: handed to the service clamped, dropped with
one log line when malformed, disabled or retained (the parsing itself: test_commands.py).
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgeface.config import Config, MqttConfig, RemoteUnlockConfig, TlsConfig
from edgeface.door.commands import Command, ReloadCommand, UnlockCommand
from edgeface.errors import ConfigError
from edgeface.mqtt.broker import broker_client
from edgeface.mqtt.client import MqttPublisher
from edgeface.mqtt.connection import MAX_PACKET_BYTES, RECONNECT_DELAY
from edgeface.mqtt.topics import Topics
from edgeface.storage.nonces import MemoryNonces
from edgeface.storage.outbox import Outbox
from edgeface.values import DoorState, EventType
from tests.support.broker import Broker, Collector, event_ids, free_port, fresh_device_id, killable_broker
from tests.support.events import EVENT_KEYS, make_event
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

OpenPublisher = Callable[..., MqttPublisher]
Collect = Callable[..., Collector]


def take_commands(publisher: MqttPublisher, count: int, timeout: float = 5.0) -> list[Command]:
    """The commands the service would see, once ``count`` have arrived (or the time is up)."""
    taken: list[Command] = []
    deadline = time.monotonic() + timeout
    while len(taken) < count and time.monotonic() < deadline:
        taken += publisher.commands(timeout=0.1)
    return taken


def ignored_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("edgeface.mqtt.")
        and r.levelno == logging.WARNING
        and "ignoring MQTT command" in r.getMessage()
    ]


@pytest.fixture
def device() -> str:
    return fresh_device_id("t")


@pytest.fixture
def open_publisher(broker: Broker, outbox: Outbox, device: str) -> Iterator[OpenPublisher]:
    """``open_publisher(**MqttConfig fields)`` → a publisher on the session broker, closed after the test."""
    opened: list[MqttPublisher] = []

    def open_(**fields: object) -> MqttPublisher:
        cfg = MqttConfig(host=broker.host, port=broker.port, keepalive=5, **fields)
        publisher = MqttPublisher(cfg, outbox, device_id=device, reconnect_delay=(1, 1))
        opened.append(publisher)
        publisher.start()
        return publisher

    yield open_
    for publisher in opened:
        publisher.close()


def connected(publisher: MqttPublisher) -> MqttPublisher:
    assert publisher.wait_connected(5.0), "publisher did not connect to the test broker"
    return publisher


UNLOCK_ON = RemoteUnlockConfig(enabled=True, max_seconds=10.0)


# --- events over a real broker --------------------------------------------------------------------------


def test_an_event_arrives_as_json_with_qos1_not_retained_and_leaves_the_outbox(
    open_publisher: OpenPublisher, collect: Collect, outbox: Outbox
) -> None:
    publisher = connected(open_publisher())
    collector = collect(publisher.topics.event)
    denied = make_event(type=EventType.DENIED, person="bob", reason="schedule")
    unknown = make_event(type=EventType.UNKNOWN, person=None)

    publisher.publish_event(denied)
    publisher.publish_event(unknown)

    first, second = collector.wait(2)
    assert first.topic == publisher.topics.event
    assert (first.qos, first.retain) == (1, False)
    assert json.loads(first.payload) == denied.to_dict()
    assert set(json.loads(first.payload)) == EVENT_KEYS | {"reason"}
    assert set(json.loads(second.payload)) == EVENT_KEYS
    assert json.loads(second.payload)["person"] is None
    assert publisher.flush(5.0)
    assert len(outbox) == 0


def test_with_mqtt_disabled_events_stay_in_the_outbox_for_a_later_start(tmp_path: Path, device: str) -> None:
    # With MQTT disabled nothing ever publishes: the outbox alone holds the events, for the next start.
    path = tmp_path / "outbox.db"
    events = [make_event(i) for i in range(3)]
    with Outbox(path, max_events=10) as box, MqttPublisher(MqttConfig(enabled=False), box, device_id=device) as pub:
        for event in events:
            pub.publish_event(event)
        pub.publish_door(DoorState.UNLOCKED)
        assert not pub.connected
        assert pub.commands() == []
    with Outbox(path, max_events=10) as box:
        assert [e for _, e in box.pending()] == events


def test_events_left_by_an_earlier_run_go_out_first_and_in_order(
    outbox: Outbox, open_publisher: OpenPublisher, collect: Collect, device: str
) -> None:
    earlier = [make_event(i) for i in range(30)]
    for event in earlier:
        outbox.put(event)
    collector = collect(Topics(f"edgeface/{device}").event)

    publisher = open_publisher()
    later = make_event(99)
    publisher.publish_event(later)

    assert publisher.flush(5.0)
    assert event_ids(collector.wait(31)) == [e.id for e in [*earlier, later]]


def test_a_broker_restart_delivers_every_event_exactly_once_in_order(
    broker: Broker, open_publisher: OpenPublisher, collect: Collect, outbox: Outbox
) -> None:
    publisher = connected(open_publisher())
    # A persistent session keeps the subscription across the restart, so the test does not race
    # the publisher's reconnect: whatever the broker accepts is queued for the collector.
    collector = collect(publisher.topics.event, persistent=True)
    before = [make_event(i) for i in range(3)]
    for event in before:
        publisher.publish_event(event)
    assert publisher.flush(5.0)
    collector.wait(3)
    collector.sync()  # the collector's own PUBACKs reached the broker: it will not redeliver these
    publisher.publish_door(DoorState.LOCKED)

    broker.stop()
    try:
        wait_until(lambda: not publisher.connected, 5, "the publisher noticing the broker is gone")
        during = [make_event(i) for i in range(50)]  # more than the 20 paho holds in flight
        started = time.monotonic()
        for event in during:
            publisher.publish_event(event)
        publisher.publish_door(DoorState.UNLOCKED)
        assert time.monotonic() - started < 2.0  # no waiting on the network
        assert len(outbox) == 50
    finally:
        broker.start()

    assert publisher.flush(10.0)
    collector.wait(53, timeout=10.0)
    time.sleep(0.3)  # room for a duplicate to show up
    assert event_ids(collector.messages()) == [e.id for e in before + during]
    # The door state changed while the broker was away: the retained value is the latest.
    (door,) = collect(publisher.topics.door).wait(1)
    assert (door.payload, door.retain) == (b"unlocked", True)


def test_without_a_broker_events_wait_nothing_blocks_and_the_outage_is_logged_once(
    outbox: Outbox, device: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="edgeface.mqtt")
    cfg = MqttConfig(host="127.0.0.1", port=free_port(), keepalive=5)
    started = time.monotonic()
    publisher = MqttPublisher(cfg, outbox, device_id=device, reconnect_delay=(1, 1))
    publisher.start()
    try:
        for i in range(5):
            publisher.publish_event(make_event(i))
        publisher.publish_door(DoorState.UNLOCKED)
        assert time.monotonic() - started < 1.0

        def attempts() -> int:
            return sum("cannot connect to MQTT broker" in r.getMessage() for r in caplog.records)

        wait_until(lambda: attempts() >= 2, 6, "a first connection attempt and a retry")
        assert not publisher.connected
        assert len(outbox) == 5
    finally:
        publisher.close()
    problems = [r for r in caplog.records if r.name.startswith("edgeface.mqtt.") and r.levelno >= logging.WARNING]
    assert [r.levelno for r in problems] == [logging.WARNING]
    refused = f"cannot connect to MQTT broker 127.0.0.1:{cfg.port} (ConnectionRefusedError: [Errno 111]"
    assert problems[0].getMessage().startswith(refused)


# --- availability and door ---------------------------------------------------------------------------


def test_availability_is_online_while_connected_and_offline_after_a_clean_close(
    open_publisher: OpenPublisher, collect: Collect
) -> None:
    publisher = connected(open_publisher())
    (online,) = collect(publisher.topics.availability).wait(1)
    assert (online.payload, online.retain) == (b"online", True)

    publisher.close()
    publisher.close()  # idempotent

    (offline,) = collect(publisher.topics.availability).wait(1)
    assert (offline.payload, offline.retain) == (b"offline", True)


def test_a_stop_waits_for_the_broker_to_acknowledge_the_goodbye(
    tmp_path: Path, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    # Closing before the broker has read the goodbye could reset the connection and lose it: the last
    # retained states would then say "online" for a stopped door.
    with killable_broker(tmp_path / "broker") as server:
        cfg = MqttConfig(host=server.host, port=server.port, keepalive=5)
        device = fresh_device_id("bye")
        publisher = MqttPublisher(cfg, outbox, device_id=device, reconnect_delay=(1, 1), close_timeout=0.5)
        publisher.start()
        connected(publisher).publish_health(True)
        with server.frozen():
            publisher.close()
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
            f"MQTT broker 127.0.0.1:{server.port} did not acknowledge the goodbye within 0.5 s"
        ]
        topics = Topics.for_device(device)
        with Collector(server, [topics.availability, topics.health]) as later:
            kept = {m.topic: m.payload for m in later.wait(2)}
    assert kept == {topics.availability: b"offline", topics.health: b'{"broker": "online", "camera": "offline"}'}


def test_building_the_client_connects_nothing_until_it_is_started(
    broker: Broker, outbox: Outbox, device: str, collect: Collect
) -> None:
    cfg = MqttConfig(host=broker.host, port=broker.port, keepalive=5)
    topics = Topics(f"edgeface/{device}")
    watcher = collect([topics.door, topics.availability])
    with MqttPublisher(cfg, outbox, device_id=device, reconnect_delay=(1, 1), door=DoorState.LOCKED) as publisher:
        publisher.publish_door(DoorState.UNLOCKED)  # kept until there is a broker to tell
        assert not publisher.wait_connected(1.0)
        assert watcher.messages() == []
        publisher.start()
        publisher.start()  # once is enough; again changes nothing
        connected(publisher)
        watcher.wait(2)
        assert [(m.topic, m.payload) for m in watcher.messages()][:2] == [
            (topics.door, b"unlocked"),
            (topics.availability, b"online"),
        ]
    with MqttPublisher(cfg, outbox, device_id=fresh_device_id("t")) as never_started:
        never_started.publish_event(make_event())
    assert not never_started.connected  # closed without ever having talked to the broker


def test_the_last_will_says_offline_when_the_process_dies(
    broker: Broker, collect: Collect, device: str, tmp_path: Path
) -> None:
    topics = Topics(f"edgeface/{device}")
    collector = collect(topics.availability)
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from edgeface.config import MqttConfig
        from edgeface.storage.outbox import Outbox
        from edgeface.mqtt.client import MqttPublisher
        outbox = Outbox(Path({str(tmp_path / "child" / "outbox.db")!r}), 100)
        cfg = MqttConfig(host={broker.host!r}, port={broker.port}, keepalive=5)
        MqttPublisher(cfg, outbox, device_id={device!r}).start()
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        (online,) = collector.wait(1, timeout=10.0)
        assert online.payload == b"online"
        child.kill()  # no DISCONNECT, no goodbye: only the broker's will can tell
        child.wait()
        assert collector.wait(2)[1].payload == b"offline"
    finally:
        child.kill()
        child.wait()
    (retained,) = collect(topics.availability).wait(1)
    assert (retained.payload, retained.retain) == (b"offline", True)


def test_the_door_state_is_retained_and_the_latest_wins(open_publisher: OpenPublisher, collect: Collect) -> None:
    publisher = connected(open_publisher())
    live = collect(publisher.topics.door)
    publisher.publish_door(DoorState.UNLOCKED)
    publisher.publish_door(DoorState.LOCKED)
    assert [m.payload for m in live.wait(2)] == [b"unlocked", b"locked"]

    (retained,) = collect(publisher.topics.door).wait(1)
    assert (retained.payload, retained.retain) == (b"locked", True)


def test_the_door_state_at_start_replaces_a_stale_retained_unlocked_before_online(
    broker: Broker, outbox: Outbox, device: str, collect: Collect
) -> None:
    topics = Topics(f"edgeface/{device}")
    collect(topics.availability).send(topics.door, b"unlocked", retain=True)  # a daemon killed during a pulse
    watcher = collect([topics.door, topics.availability])
    cfg = MqttConfig(host=broker.host, port=broker.port, keepalive=5)
    with MqttPublisher(cfg, outbox, device_id=device, door=DoorState.LOCKED) as publisher:
        publisher.start()
        connected(publisher)
        watcher.wait(3)
        assert [(m.topic, m.payload) for m in watcher.messages()][:3] == [
            (topics.door, b"unlocked"),  # the stale retained value, delivered at subscribe
            (topics.door, b"locked"),  # first thing on connect ...
            (topics.availability, b"online"),  # ... before the door says it is up
        ]
    (retained,) = collect(topics.door).wait(1)
    assert retained.payload == b"locked"


def test_the_broker_is_told_to_drop_command_packets_larger_than_the_limit(
    open_publisher: OpenPublisher, collect: Collect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.mqtt")
    publisher = connected(open_publisher(remote_unlock=UNLOCK_ON))
    sender = collect(publisher.topics.availability)

    # A huge payload is never even read by the door: paho would buffer all of it before we could refuse it.
    sender.send(publisher.topics.command("unlock"), b"x" * (4 * 1024 * 1024))
    sender.send(publisher.topics.command("unlock"), b"y" * (MAX_PACKET_BYTES - 200))  # under the packet limit
    sender.send(publisher.topics.command("unlock"), b'{"seconds": 1}')

    assert take_commands(publisher, 1) == [UnlockCommand(1.0)]
    (line,) = ignored_lines(caplog)  # only the one that fitted in a packet reached the parser
    assert f"payload of {MAX_PACKET_BYTES - 200} bytes is over the 1024-byte limit" in line


def test_every_client_turns_nagle_off_so_small_packets_go_at_once(broker: Broker) -> None:
    # A door state then its event, or a goodbye then DISCONNECT: with Nagle on, each waits for a delayed ACK.
    client = broker_client(
        MqttConfig(host=broker.host, port=broker.port), fresh_device_id("nodelay"), log=logging.getLogger(__name__)
    )
    client.connect(broker.host, broker.port)
    try:
        sock = client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        client.disconnect()


def test_after_a_long_broker_outage_the_door_is_back_within_a_few_seconds(
    make_broker: Callable[..., Broker], outbox: Outbox, device: str
) -> None:
    private = make_broker()
    cfg = MqttConfig(host=private.host, port=private.port, keepalive=5)
    with MqttPublisher(cfg, outbox, device_id=device) as publisher:  # the daemon's own back-off
        publisher.start()
        connected(publisher)
        private.stop()
        wait_until(lambda: not publisher.connected, 5, "the publisher noticing the broker is gone")
        time.sleep(16)  # long enough for an uncapped doubling back-off to wait 16 s or more
        private.start()
        back = time.monotonic()
        wait_until(lambda: publisher.connected, RECONNECT_DELAY[1] + 3, "the reconnect")
        assert time.monotonic() - back <= RECONNECT_DELAY[1] + 1.0


# --- commands ---------------------------------------------------------------------------------------------


def test_an_unlock_command_reaches_the_service_clamped(open_publisher: OpenPublisher, collect: Collect) -> None:
    publisher = connected(open_publisher(remote_unlock=UNLOCK_ON))
    sender = collect(publisher.topics.availability)

    sender.send(publisher.topics.command("unlock"), b'{"seconds": 4.5}')
    sender.send(publisher.topics.command("unlock"), b'{"seconds": 3600}')
    sender.send(publisher.topics.command("unlock"), b"")
    sender.send(publisher.topics.command("reload"), b"")

    assert take_commands(publisher, 4) == [
        UnlockCommand(4.5),
        UnlockCommand(10.0),
        UnlockCommand(None),
        ReloadCommand(),
    ]


@pytest.mark.parametrize(
    "payload", [b'{"seconds": -3}', b'{"seconds": NaN}', b"\xc3\x28", b"{", b'{"sec": 1}', b"x" * 2000]
)
def test_a_malformed_unlock_is_ignored_with_one_log_line(
    open_publisher: OpenPublisher, collect: Collect, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.mqtt")
    publisher = connected(open_publisher(remote_unlock=UNLOCK_ON))
    sender = collect(publisher.topics.availability)

    sender.send(publisher.topics.command("unlock"), payload)
    sender.send(publisher.topics.command("unlock"), b'{"seconds": 1}')  # arrives after the bad one

    assert take_commands(publisher, 1) == [UnlockCommand(1.0)]
    (line,) = ignored_lines(caplog)
    assert line.startswith("ignoring MQTT command unlock: ")
    assert "\n" not in line


def test_unlock_is_ignored_when_remote_unlock_is_disabled(
    open_publisher: OpenPublisher, collect: Collect, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = connected(open_publisher())  # remote_unlock.enabled defaults to false
    sender = collect(publisher.topics.availability)

    sender.send(publisher.topics.command("unlock"), b'{"seconds": 1}')

    wait_until(lambda: bool(ignored_lines(caplog)), 5, "a line saying the command is ignored")
    assert ignored_lines(caplog) == [
        "ignoring MQTT command unlock: remote unlock is disabled (mqtt.remote_unlock.enabled)"
    ]
    assert publisher.commands() == []


def test_a_retained_command_is_not_replayed_at_connect(
    open_publisher: OpenPublisher, collect: Collect, device: str, caplog: pytest.LogCaptureFixture
) -> None:
    topics = Topics(f"edgeface/{device}")
    sender = collect(topics.availability)
    sender.send(topics.command("unlock"), b"{}", retain=True)
    try:
        publisher = connected(open_publisher(remote_unlock=UNLOCK_ON))
        wait_until(lambda: bool(ignored_lines(caplog)), 5, "a line saying the command is ignored")
        assert "retained" in ignored_lines(caplog)[0]
        assert publisher.commands() == []
    finally:
        sender.send(topics.command("unlock"), b"", retain=True)  # an empty retained message clears it


# --- configuration ------------------------------------------------------------------------------------------


def test_from_config_uses_the_config_topic_prefix(outbox: Outbox) -> None:
    for config, expected in [
        (Config(device_id="door7", mqtt=MqttConfig(enabled=False)), "edgeface/door7/cmd/unlock"),
        (Config(device_id="door7", mqtt=MqttConfig(enabled=False, prefix="site/front")), "site/front/cmd/unlock"),
    ]:
        with MqttPublisher.from_config(
            config.mqtt, config.device_id, config.topic_prefix, outbox, door=DoorState.LOCKED, nonces=MemoryNonces()
        ) as publisher:
            assert publisher.topics.command("unlock") == expected


@pytest.mark.parametrize("prefix", ["site/#", "a/+/b", "site/", "$SYS/x", "/abs"])
def test_a_wildcard_or_malformed_prefix_is_a_config_error(outbox: Outbox, prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"mqtt\.prefix"):
        MqttPublisher(MqttConfig(), outbox, device_id="d", prefix=prefix)


def test_tls_files_are_checked_and_named(outbox: Outbox, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=rf"mqtt\.tls\.ca_file: {missing}: file not found"):
        MqttPublisher(MqttConfig(tls=TlsConfig(ca_file=str(missing))), outbox, device_id="d")
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"mqtt\.tls: cannot load"):
        MqttPublisher(MqttConfig(tls=TlsConfig(ca_file=str(garbage), insecure=True)), outbox, device_id="d")


# --- credentials and TLS against private brokers ----------------------------------------------------------


def test_credentials_are_sent_and_a_refusal_is_logged_once(
    make_broker: Callable[..., Broker], outbox: Outbox, device: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passwords = tmp_path / "passwords"
    tool = shutil.which("mosquitto_passwd")
    assert tool, "mosquitto_passwd is missing (it ships with mosquitto)"
    subprocess.run([tool, "-b", "-c", str(passwords), "door", "s3cret"], check=True)
    locked = make_broker(anonymous=False, extra=f"password_file {passwords}\n")

    good = MqttConfig(host=locked.host, port=locked.port, username="door", password="s3cret")
    with MqttPublisher(good, outbox, device_id=device, reconnect_delay=(1, 1)) as publisher:
        publisher.start()
        assert publisher.wait_connected(5.0)

    caplog.set_level(logging.DEBUG, logger="edgeface.mqtt")
    bad = MqttConfig(host=locked.host, port=locked.port, username="door", password="wrong")
    with MqttPublisher(bad, outbox, device_id=device, reconnect_delay=(1, 1)) as publisher:
        publisher.start()
        refused = "refused the connection"
        wait_until(lambda: sum(refused in r.getMessage() for r in caplog.records) >= 2, 5, "two refusals")
        assert not publisher.connected
    problems = [r for r in caplog.records if r.name.startswith("edgeface.mqtt.") and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in problems] == [
        f"MQTT broker {locked.host}:{locked.port} refused the connection: Not authorized"
    ]


def test_tls_verifies_the_broker_and_insecure_skips_only_the_name(
    make_broker: Callable[..., Broker],
    pki: Path,
    outbox: Outbox,
    device: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tls_broker = make_broker(
        extra=f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'named.pem'}\nkeyfile {pki / 'named.key'}\n"
    )
    ca = str(pki / "ca.pem")

    def attempt(host: str, tls: TlsConfig) -> bool:
        cfg = MqttConfig(host=host, port=tls_broker.port, tls=tls)
        with MqttPublisher(cfg, outbox, device_id=device, reconnect_delay=(1, 1)) as publisher:
            publisher.start()
            return publisher.wait_connected(1.5)

    assert attempt("localhost", TlsConfig(ca_file=ca))
    with caplog.at_level(logging.WARNING, logger="edgeface.mqtt"):
        assert not attempt("127.0.0.1", TlsConfig(ca_file=ca))  # the certificate names localhost, not the IP
    assert "certificate verify failed" in caplog.records[0].getMessage()
    assert attempt("127.0.0.1", TlsConfig(ca_file=ca, insecure=True))
