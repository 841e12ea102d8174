"""A real mosquitto for the whole test session, subscribers that collect what arrives, and a broker to kill.

The ``broker`` fixture starts ``mosquitto`` on a free loopback port from a config generated in a
temporary directory. Tests may ``stop()`` and ``start()`` it (same port) to play an outage, and
must leave it running. Persistence is on, in that directory only: a ``persistent`` collector's
session and subscriptions then survive a broker restart, which makes "every event arrives exactly
once" checkable without racing the publisher's reconnect. ``killable_broker`` adds SIGKILL to a
private one.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.process import log_tail, stop_gently, wait_answering
from tests.support.timing import scaled

MOSQUITTO_FALLBACK = "/usr/sbin/mosquitto"


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or (MOSQUITTO_FALLBACK if os.access(MOSQUITTO_FALLBACK, os.X_OK) else None)
    if found is None:
        pytest.fail("mosquitto is not installed (apt install mosquitto): the MQTT tests need a real broker")
    return found


def fresh_device_id(kind: str = "door") -> str:
    """A device id no test has used before: the session broker keeps retained topics between tests."""
    return f"{kind}{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """One mosquitto process; ``stop()`` and ``start()`` keep the same port."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, port: int | None = None, *, anonymous: bool = True, extra: str = "") -> None:
        """``extra`` is appended to the generated config (listener options such as ``certfile`` apply)."""
        self.workdir = workdir
        self.port = port or free_port()
        self.executable = find_mosquitto()
        self.log_path = workdir / "mosquitto.log"
        self.config_path = workdir / "mosquitto.conf"
        self.config_path.write_text(
            f"listener {self.port} {self.host}\n"
            f"allow_anonymous {str(anonymous).lower()}\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            # As root mosquitto would switch to the 'mosquitto' user, who cannot write here.
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            # Never drop a test's messages for a slow or briefly absent subscriber.
            "max_queued_messages 0\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n" + extra
        )
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        with open(self.workdir / "stderr.log", "ab") as err:
            self._proc = subprocess.Popen([self.executable, "-c", str(self.config_path)], stderr=err)
        try:
            wait_answering(self._proc, self._answers, timeout, f"mosquitto on {self.port}", self.log_tail)
        except AssertionError:
            self.stop()
            raise

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_gently(proc, 5.0)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail((self.workdir / "stderr.log", self.log_path), lines)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Collector:
    """A paho subscriber on its own thread that records every message on ``topics``.

    Entering waits for the SUBACK, so nothing published afterwards is missed. With
    ``persistent=True`` the broker keeps the session (and queues messages) while it is away.
    """

    def __init__(self, broker: Broker, topics: list[str], *, persistent: bool = False) -> None:
        self.broker = broker
        self.topics = topics
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"collector-{uuid.uuid4().hex[:12]}", clean_session=not persistent
        )
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def __enter__(self) -> Collector:
        self._client.connect(self.broker.host, self.broker.port, keepalive=10)
        self._client.loop_start()
        if not self._subscribed.wait(5.0):
            self.close()
            raise AssertionError(f"collector could not subscribe to {self.topics}")
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.received.append(Received(msg.topic, bytes(msg.payload), msg.qos, msg.retain))
            self._cond.notify_all()

    def messages(self, topic: str | None = None) -> list[Received]:
        with self._cond:
            return [m for m in self.received if topic is None or m.topic == topic]

    def wait(self, count: int, topic: str | None = None, timeout: float = 5.0) -> list[Received]:
        """The messages (on ``topic``) once there are at least ``count``; AssertionError on timeout (scaled)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages(topic)) >= count, scaled(timeout)):
                got = self.messages(topic)
                raise AssertionError(f"expected {count} messages on {topic or self.topics}, got {len(got)}: {got}")
            return self.messages(topic)

    def sync(self) -> None:
        """Return once the broker has processed everything this client sent so far (its PUBACKs too).

        The broker handles one connection's packets in order, so a round trip settles the ones before it.
        """
        self.send(f"collector-sync/{uuid.uuid4().hex}", b"")

    def send(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish from this client (QoS 1) and wait for the broker's PUBACK."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(5.0)
        assert info.is_published(), f"could not publish to {topic}"


def event_ids(messages: list[Received]) -> list[str]:
    """The ids of the events in ``messages``, in arrival order."""
    return [json.loads(m.payload)["id"] for m in messages]


class FlaggedCollector(Collector):
    """A Collector of events that also records each message's DUP flag.

    A broker sets DUP when it re-sends a message to this subscriber (its PUBACK was lost when the
    broker went away): such a copy is the broker's redelivery on the last hop. A copy without DUP is
    a fresh delivery, so two of them for one event id mean the broker *accepted* it twice.
    """

    def __init__(self, broker: Broker, topics: list[str], *, persistent: bool = False) -> None:
        super().__init__(broker, topics, persistent=persistent)
        self.flags: list[tuple[str, bool, float]] = []

    def __enter__(self) -> FlaggedCollector:
        super().__enter__()
        return self

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.flags.append((json.loads(msg.payload)["id"], bool(msg.dup), time.monotonic()))
        super()._on_message(client, userdata, msg)

    def fresh(self) -> list[tuple[str, float]]:
        """(event id, arrival time) of the deliveries not flagged DUP, in arrival order."""
        with self._cond:
            return [(event_id, at) for event_id, dup, at in self.flags if not dup]

    def ids(self) -> list[str]:
        with self._cond:
            return [event_id for event_id, _, _ in self.flags]


class KillableBroker(Broker):
    """A private test broker, plus an unclean death and a freeze."""

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP for the block: connections stay open, and nothing is read or answered until it ends."""
        assert self._proc is not None, "the broker is not running"
        self._proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


@contextmanager
def killable_broker(workdir: Path, extra: str = "") -> Iterator[KillableBroker]:
    workdir.mkdir(parents=True, exist_ok=True)
    server = KillableBroker(workdir, extra=extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """The session's mosquitto. A test that stops it must start it again (try/finally)."""
    server = Broker(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Broker]]:
    """``make_broker(anonymous=..., extra=...)`` → a started private mosquitto, stopped after the test."""
    started: list[Broker] = []

    def make(**options: Any) -> Broker:
        server = Broker(tmp_path_factory.mktemp("mosquitto-private"), **options)
        started.append(server)
        server.start()
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def collect(broker: Broker) -> Iterator[Callable[..., Collector]]:
    """``collect(topics, persistent=False)`` → an entered Collector, closed after the test."""
    opened: list[Collector] = []

    def open_collector(topics: str | list[str], *, persistent: bool = False) -> Collector:
        collector = Collector(broker, [topics] if isinstance(topics, str) else topics, persistent=persistent)
        opened.append(collector.__enter__())
        return collector

    yield open_collector
    for collector in opened:
        collector.close()
