"""The door's retained states: the latest value of each, published on change and again on every connect.

Availability, door, presence, discovery, health and snapshot are published with QoS 0, retained,
only while connected, and re-published on every (re)connect: paho would otherwise keep a stale
QoS 1 "unlocked" across a reconnect and deliver it *after* the fresh state, leaving the wrong
retained value. The door's state comes first, before "online": a daemon that crashed during a pulse
left a retained "unlocked", and the state given at construction (the relay, locked at start)
replaces it the moment the broker answers. The discovery messages follow, so Home Assistant finds
the states it subscribes to already there.

Health and snapshot are *newer* topics, which a broker ACL written before them may deny; a broker
may then drop the connection at the denied publish (mosquitto 2.0 over TLS does). Each is followed
by a marker, and a topic after which the connection is lost twice in a row before the marker's
PUBACK is logged once and not published again until a restart
(:class:`~edgeface.mqtt.denied.DeniedTopics`): such a door reconnects twice, then runs as before
without that entity. They are published last on connect for the same reason.

What we send is bounded only by the broker's own Maximum Packet Size, from its CONNACK: paho does
not check it, and a broker that gets a larger packet drops the connection, so a snapshot that
would not fit is skipped with one warning per connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from paho.mqtt.client import Client
from paho.mqtt.enums import MQTTErrorCode

from edgeface.mqtt import payloads
from edgeface.mqtt.denied import DeniedTopics
from edgeface.mqtt.discovery import Announcement
from edgeface.mqtt.topics import Topics
from edgeface.values import DoorState

__all__ = ["MARKER_QOS", "STATE_QOS", "RetainedStates"]

log = logging.getLogger(__name__)

STATE_QOS = 0
MARKER_QOS = 1
"""The marker after a newer topic (``online`` again on the availability topic) needs a PUBACK."""
PUBLISH_OVERHEAD_BYTES = 16
"""A QoS 0 PUBLISH's bytes besides its topic and payload: fixed header, lengths, an empty property list."""


class RetainedStates:
    """The retained topics of one door and the client they go out on while it is connected.

    Every method takes one lock, which orders a change published now against the re-publish of
    all of them when the link comes up (paho's thread), so the broker always ends with the latest.
    ``where`` (``host:port``) names the broker in log lines.
    """

    def __init__(self, topics: Topics, *, door: DoorState | None, where: str) -> None:
        self.topics = topics
        self._where = where
        self._lock = threading.Lock()
        self._client: Client | None = None
        """The connected client; None while the link is down."""
        self._door = door
        self._presence: bool | None = None
        self._announcements: tuple[Announcement, ...] = ()
        self._newer: dict[str, bytes] = {}
        """The latest value of each newer topic (health, snapshot)."""
        self._denied = DeniedTopics()
        self._broker_max: int | None = None
        """The broker's Maximum Packet Size from its CONNACK; None: it set none."""
        self._too_big_logged = False

    def door(self, state: DoorState) -> None:
        with self._lock:
            self._door = state
            if self._client is not None:
                self._client.publish(self.topics.door, payloads.door(state), qos=STATE_QOS, retain=True)

    def presence(self, present: bool) -> None:
        with self._lock:
            self._presence = present
            if self._client is not None:
                self._client.publish(self.topics.presence, payloads.presence(present), qos=STATE_QOS, retain=True)

    def announce(self, items: Sequence[Announcement]) -> None:
        with self._lock:
            self._announcements = tuple(items)
            if self._client is not None:
                for item in self._announcements:
                    self._client.publish(item.topic, item.payload, qos=STATE_QOS, retain=True)

    def newer(self, topic: str, payload: bytes) -> None:
        """Set a newer topic (health, snapshot); an empty payload clears the retained one."""
        with self._lock:
            self._newer[topic] = payload
            if self._client is not None:
                self._send_newer(self._client, topic)

    def link_up(self, client: Client, broker_max: int | None) -> None:
        """The link came up: publish every state, in the order the module docstring gives."""
        with self._lock:
            self._client = client
            self._broker_max = broker_max
            self._too_big_logged = False
            if self._door is not None:
                client.publish(self.topics.door, payloads.door(self._door), qos=STATE_QOS, retain=True)
            client.publish(self.topics.availability, payloads.ONLINE, qos=STATE_QOS, retain=True)
            if self._presence is not None:
                client.publish(self.topics.presence, payloads.presence(self._presence), qos=STATE_QOS, retain=True)
            for item in self._announcements:
                client.publish(item.topic, item.payload, qos=STATE_QOS, retain=True)
            # Last: a broker whose ACL denies one of these may drop the connection there.
            for topic in self._newer:
                self._send_newer(client, topic)

    def link_down(self, *, closing: bool) -> None:
        """The link went down; unless we are ``closing``, that is a strike against newer topics in flight."""
        with self._lock:
            self._client = None
            refused = [] if closing else self._denied.dropped()
        for topic in refused:
            log.error(
                "MQTT broker %s dropped the connection twice right after %s: its ACL probably denies it; "
                "not published again until a restart (let the door's user write it: docs/home-assistant.md)",
                self._where,
                topic,
            )

    def acked(self, mid: int) -> bool:
        """A PUBACK: True if it was a marker's (so none of the outbox's), False otherwise."""
        with self._lock:
            return self._denied.acked(mid)

    def _send_newer(self, client: Client, topic: str) -> None:
        """Publish a newer topic's latest value, then its marker (see :mod:`edgeface.mqtt.denied`)."""
        if not self._denied.allowed(topic):
            return
        payload = self._newer[topic]
        size = len(payload) + len(topic.encode()) + PUBLISH_OVERHEAD_BYTES
        if self._broker_max is not None and size > self._broker_max:
            # The broker would drop the connection: skip it (a snapshot; the health is a few bytes).
            if not self._too_big_logged:
                self._too_big_logged = True
                log.warning(
                    "%s of %d bytes not published: MQTT broker %s takes packets of at most %d bytes "
                    "(its max_packet_size)",
                    topic.rsplit("/", 1)[-1],
                    len(payload),
                    self._where,
                    self._broker_max,
                )
            return
        client.publish(topic, payload, qos=STATE_QOS, retain=True)
        marker = client.publish(self.topics.availability, payloads.ONLINE, qos=MARKER_QOS, retain=True)
        if marker.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._denied.published(topic, marker.mid)
