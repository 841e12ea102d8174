"""A short-lived MQTT connection for commands that talk to the broker once (doctor, ha remove, relay lock).

It uses its own client id, so it never knocks the daemon's session off the
broker, and the same credentials, TLS settings and protocol (MQTT 5) as the daemon. ``timeout``
bounds each step: the TCP (and TLS) connect, the broker's answer, and in
:func:`publish_retained` its acknowledgement.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from paho.mqtt.client import Client, ConnectFlags
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edgeface.config import MqttConfig
from edgeface.errors import EdgefaceError
from edgeface.mqtt.broker import acknowledged, broker_client

log = logging.getLogger(__name__)


class BrokerUnavailable(EdgefaceError):
    """The broker could not be reached or refused the connection."""


@contextmanager
def connected_client(
    mqtt: MqttConfig,
    purpose: str,
    timeout: float = 5.0,
    *,
    connack: list[Properties] | None = None,
    max_packet: int | None = None,
) -> Iterator[Client]:
    """A connected paho client with its network loop running; disconnected on exit.

    ``connack``, if given, receives the properties of the broker's CONNACK (its limits). ``max_packet``
    asks the broker never to send a larger packet (MQTT 5 Maximum Packet Size): it drops such messages.
    """
    where = f"{mqtt.host}:{mqtt.port}{' (TLS)' if mqtt.tls else ''}"
    answered = threading.Event()
    refusal: list[str] = []

    def on_connect(
        client: Client, userdata: object, flags: ConnectFlags, reason: ReasonCode, props: Properties | None
    ) -> None:
        if reason.is_failure:
            refusal.append(str(reason))
        if connack is not None and props is not None:
            connack.append(props)
        answered.set()

    client_id = f"edgeface-{purpose}-{uuid.uuid4().hex[:8]}"
    client = broker_client(mqtt, client_id, log=log)
    client.connect_timeout = timeout
    client.on_connect = on_connect
    connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
    if max_packet is not None:
        connect.MaximumPacketSize = max_packet
    try:
        client.connect(mqtt.host, mqtt.port, keepalive=10, properties=connect)
    except OSError as exc:
        raise BrokerUnavailable(f"MQTT broker {where}: {exc}") from exc
    client.loop_start()
    try:
        if not answered.wait(timeout):
            raise BrokerUnavailable(f"MQTT broker {where}: no answer in {timeout:.0f} s")
        if refusal:
            raise BrokerUnavailable(f"MQTT broker {where} refused the connection: {refusal[0]}")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish_retained(mqtt: MqttConfig, topic: str, payload: str, *, purpose: str, timeout: float) -> None:
    """Publish one retained QoS 1 message and wait for the broker's acknowledgement; BrokerUnavailable if it
    cannot be done, each step within ``timeout`` seconds."""
    with connected_client(mqtt, purpose, timeout) as client:
        if not acknowledged(client.publish(topic, payload, qos=1, retain=True), timeout):
            raise BrokerUnavailable(f"MQTT broker {mqtt.host}:{mqtt.port} did not acknowledge {topic} in {timeout:g} s")


def broker_packet_limit(mqtt: MqttConfig, timeout: float = 5.0) -> int | None:
    """Connect once and return the largest packet the broker accepts, as its CONNACK says (MQTT 5's Maximum
    Packet Size, mosquitto's ``max_packet_size``); None when it sets none. BrokerUnavailable if it cannot."""
    connack: list[Properties] = []
    with connected_client(mqtt, "limits", timeout, connack=connack):
        pass
    limit = getattr(connack[0], "MaximumPacketSize", None) if connack else None
    return int(limit) if limit is not None else None
