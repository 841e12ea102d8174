"""Publishing decisions over MQTT, and receiving remote commands: the paho 2.x client.

The topics and their payloads are listed in :mod:`edgeface.mqtt.topics`.

Events
    :meth:`MqttPublisher.publish_event` writes the event to the :class:`~edgeface.storage.outbox.Outbox` and
    returns; it never waits for the network. While connected, a pump thread hands the oldest waiting
    events to paho, at most ``max_inflight`` at a time, and deletes each from the outbox when its
    PUBACK arrives. Events handed over but not acknowledged when the connection drops stay with
    paho, which re-sends them first, in order, after the next CONNACK; the pump resumes only after
    the first of those is acknowledged, so newer events cannot overtake them. Everything else waits
    in the outbox. So each event is given to paho once per process, and a broker restart yields
    every event once and in order. Those decisions are :class:`edgeface.mqtt.pump.OutboxPump`'s;
    this module runs it on its thread and makes the paho calls.

    What can still repeat (subscribers de-duplicate on ``id``): an event the broker received whose
    PUBACK was lost when the connection dropped (paho re-sends it, flagged DUP), and one whose
    PUBACK arrived after the last outbox write before a crash, or after a close that stopped
    waiting (it is sent again at the next start).

Availability, door, presence, discovery, health and snapshot
    Published with QoS 0, retained, only while connected, and re-published on every (re)connect:
    paho would otherwise keep a stale QoS 1 "unlocked" across a reconnect and deliver it *after*
    the fresh state, leaving the wrong retained value. The door's state comes first, before
    "online": a daemon that crashed during a pulse left a retained "unlocked", and the state given at
    construction (the relay, locked at start) replaces it the moment the broker answers. The
    discovery messages (:meth:`MqttPublisher.announce`) follow, so Home Assistant finds the states
    it subscribes to already there.

    Health and snapshot are retained QoS 0 states too, but newer than the broker ACL the docs used
    to give: a broker that denies them may drop the connection at the denied publish (mosquitto 2.0
    over TLS does). Each is followed by a marker, and a topic after which the connection is lost
    twice in a row before the marker's PUBACK is logged once and not published again until a
    restart (:class:`~edgeface.mqtt.denied.DeniedTopics`): such a door reconnects twice, then runs
    as before without that entity.

Connection
    MQTT 5 (mosquitto 1.6 and later), so that CONNECT can carry a Maximum Packet Size of
    :data:`MAX_PACKET_BYTES`: the broker then drops any larger message instead of sending it, and a
    250 MiB publish to ``cmd/unlock`` costs the door nothing (paho would buffer a whole packet
    before anything could look at it). That limit is on what the broker sends *us*; what we send
    (a snapshot is tens of KiB) is bounded only by the broker's own Maximum Packet Size, from its
    CONNACK: paho does not check it, and a broker that gets a larger packet drops the connection,
    so a snapshot that would not fit is skipped with one warning per connection. Paho's reconnect
    back-off is capped at :data:`RECONNECT_DELAY`'s few seconds: a door is back within moments of
    its broker.

Commands
    Paho's network thread parses each command with :mod:`edgeface.mqtt.commands` (strict parsing, and
    the signature, freshness and nonce checks of signed unlocks) and puts the valid ones on a
    bounded thread-safe queue; the service drains it from its own loop with
    :meth:`Publisher.commands` and acts there (rate limits included), so only the service's thread
    ever touches the relay. Malformed, unsigned, stale, replayed, disallowed and retained commands
    (a retained unlock would open the door again at every reconnect) are dropped with one warning
    line each, rate-limited (see :mod:`edgeface.mqtt.commands`).
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import NamedTuple, TypeAlias

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edgeface.config import MqttConfig
from edgeface.door.commands import Command
from edgeface.mqtt.broker import broker_client
from edgeface.mqtt.commands import MAX_COMMAND_BYTES, CommandInbox, CommandName
from edgeface.mqtt.denied import DeniedTopics
from edgeface.mqtt.discovery import Announcement
from edgeface.mqtt.guard import guarded
from edgeface.mqtt.pump import OutboxPump
from edgeface.mqtt.topics import Topics
from edgeface.storage.nonces import NonceLog
from edgeface.storage.outbox import Outbox, OutboxError
from edgeface.values import DoorState, Event

__all__ = ["MqttPublisher"]

log = logging.getLogger(__name__)
_guarded = guarded(log, "MQTT")
_ON_OFF = {True: "ON", False: "OFF"}

EVENT_QOS = 1
STATE_QOS = 0
WILL_QOS = 1
COMMAND_QOS = 1
MAX_PACKET_BYTES = MAX_COMMAND_BYTES + 3 * 1024
"""The largest packet the broker may send us: a command payload at its limit, its topic and headers."""
RECONNECT_DELAY = (1, 3)
"""Paho's back-off between reconnect attempts, (first, most) in whole seconds."""
MARKER_QOS = 1
"""The marker after a newer topic (``online`` again on the availability topic) needs a PUBACK."""
MARKER_ROOM = 8
"""Markers in flight at once beyond the events (a camera flapping makes one per change)."""
PUBLISH_OVERHEAD_BYTES = 16
"""A QoS 0 PUBLISH's bytes besides its topic and payload: fixed header, lengths, an empty property list."""


def _health(camera_online: bool) -> str:
    """``<prefix>/health``: whether frames arrive, and the broker link (online whenever it can be read)."""
    return json.dumps({"camera": "online" if camera_online else "offline", "broker": "online"}, sort_keys=True)


class _Acked(NamedTuple):
    """Paho's on_publish: the broker acknowledged message ``mid`` (or paho wrote a QoS 0 one)."""

    mid: int
    reason: ReasonCode


class _Link(NamedTuple):
    """The connection came up (after CONNACK) or went down."""

    up: bool


_Signal: TypeAlias = _Acked | _Link | None
"""What the pump thread is told; None only wakes it (a new event, or close)."""


class MqttPublisher:
    """The paho-mqtt 2.x backend. Never blocks the caller on the network; see the module docstring.

    The caller owns ``outbox`` and closes it after this publisher. With ``cfg.enabled`` false no
    connection is made and events only accumulate in the outbox.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        outbox: Outbox,
        *,
        device_id: str,
        prefix: str | None = None,
        reconnect_delay: tuple[int, int] = RECONNECT_DELAY,
        max_inflight: int = 20,
        close_timeout: float = 1.0,
        announcements: Sequence[Announcement] = (),
        door: DoorState | None = None,
        nonces: NonceLog | None = None,
    ) -> None:
        """``reconnect_delay`` is paho's (min, max) back-off in whole seconds; ``close_timeout`` bounds
        how long :meth:`close` waits for PUBACKs of events in flight; ``announcements`` are retained
        messages (Home Assistant discovery) re-sent on every connect; ``door`` is the relay's state now,
        published first on connect; ``nonces`` keeps the nonces of signed commands (None: in memory only)."""
        self._pump = OutboxPump(outbox, max_inflight)
        self.topics = Topics.for_device(device_id, prefix)
        self._host, self._port = cfg.host, cfg.port
        self._outbox = outbox
        self._inbox = CommandInbox(cfg.remote_unlock, self.topics.commands, log=log, nonces=nonces)
        self._max_inflight = max_inflight
        self._close_timeout = close_timeout
        self._command_names: dict[str, CommandName] = {topic: name for name, topic in self.topics.commands.items()}
        # _state_lock orders door/availability publishes against on_connect's re-publish of them.
        self._state_lock = threading.Lock()
        self._door = door
        self._presence: bool | None = None
        self._newer: dict[str, bytes] = {}
        """The latest value of each newer retained topic (health, snapshot), under _state_lock."""
        self._denied = DeniedTopics()
        self._broker_max: int | None = None
        """The broker's Maximum Packet Size from its CONNACK; None: it set none."""
        self._too_big_logged = False
        self._announcements = tuple(announcements)
        self._connected = False
        self._ready = threading.Event()
        self._outage_logged = False
        self._closed = False
        self._closing = False
        self._close_lock = threading.Lock()
        self._acked = threading.Condition()
        # Paho's callbacks only post here: the pump thread alone touches self._pump, so no lock of
        # ours is ever taken while paho holds its own (on_publish runs under paho's message mutex).
        self._signals: queue.SimpleQueue[_Signal] = queue.SimpleQueue()
        self._stopping = False
        self._client: Client | None = None
        self._pump_thread: threading.Thread | None = None
        if not cfg.enabled:
            log.info("MQTT is disabled (mqtt.enabled: false): events are kept in %s only", outbox.path)
            return
        self._client = self._make_client(cfg, f"edgeface-{device_id}", reconnect_delay)
        connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
        connect.MaximumPacketSize = MAX_PACKET_BYTES
        # connect_async only records where to go: paho's thread connects, so a missing broker never blocks us.
        # clean_start: no session survives us, as with MQTT 3.1.1's clean session (and its expiry is 0).
        self._client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive, clean_start=True, properties=connect)
        self._pump_thread = threading.Thread(target=self._run_pump, name=f"edgeface-outbox-{device_id}", daemon=True)
        self._pump_thread.start()
        log.info("connecting to MQTT broker %s:%d, topics under %s/", self._host, self._port, self.topics.prefix)
        self._client.loop_start()

    @classmethod
    def from_config(
        cls, cfg: MqttConfig, device_id: str, topic_prefix: str, outbox: Outbox, *, door: DoorState, nonces: NonceLog
    ) -> MqttPublisher:
        """The daemon's publisher: ``config.mqtt``, ``config.device_id``, ``config.topic_prefix``, the relay's
        state and the nonce file. Discovery comes later, from the service (:meth:`announce`)."""
        return cls(cfg, outbox, device_id=device_id, prefix=topic_prefix, door=door, nonces=nonces)

    def _make_client(self, cfg: MqttConfig, client_id: str, reconnect_delay: tuple[int, int]) -> Client:
        client = broker_client(cfg, client_id, log=log)
        # No client.enable_logger(): paho logs an ERROR on every reconnect attempt, and an outage must
        # be logged once. Our callbacks log their own failures (see _guarded).
        # Room beyond the pump's events for the markers, so that none waits in paho's queue: one sent after
        # close()'s "offline" would leave the door "online" on the broker.
        client.max_inflight_messages = self._max_inflight + MARKER_ROOM
        client.reconnect_delay_set(*reconnect_delay)
        client.will_set(self.topics.availability, "offline", qos=WILL_QOS, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def __enter__(self) -> MqttPublisher:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def inbox(self) -> CommandInbox:
        """The command queue, with its ``accepted`` and ``dropped`` counters (for metrics and tests)."""
        return self._inbox

    def publish_event(self, event: Event) -> None:
        """Store ``event`` durably, then let the pump send it. Raises OutboxError if it cannot be stored."""
        self._outbox.put(event)
        if self._pump_thread is not None:
            self._signals.put(None)

    def publish_door(self, state: DoorState) -> None:
        with self._state_lock:
            self._door = state
            if self._client is not None and self._connected:
                self._client.publish(self.topics.door, state.value, qos=STATE_QOS, retain=True)

    def publish_presence(self, present: bool) -> None:
        with self._state_lock:
            self._presence = present
            if self._client is not None and self._connected:
                self._client.publish(self.topics.presence, _ON_OFF[present], qos=STATE_QOS, retain=True)

    def publish_health(self, camera_online: bool) -> None:
        self._publish_newer(self.topics.health, _health(camera_online).encode())

    def publish_snapshot(self, jpeg: bytes | None) -> None:
        # Kept in memory only, to be re-published after a reconnect; None (empty) clears the retained one.
        self._publish_newer(self.topics.snapshot, jpeg or b"")

    def announce(self, items: Sequence[Announcement]) -> None:
        """Publish these discovery messages (retained) now if connected, and again on every connect."""
        with self._state_lock:
            self._announcements = tuple(items)
            if self._client is not None and self._connected:
                for item in self._announcements:
                    self._client.publish(item.topic, item.payload, qos=STATE_QOS, retain=True)

    def _publish_newer(self, topic: str, payload: bytes) -> None:
        with self._state_lock:
            self._newer[topic] = payload
            if self._client is not None and self._connected:
                self._send_newer(self._client, topic)

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
                    "%s of %d bytes not published: MQTT broker %s:%d takes packets of at most %d bytes "
                    "(its max_packet_size)",
                    topic.rsplit("/", 1)[-1],
                    len(payload),
                    self._host,
                    self._port,
                    self._broker_max,
                )
            return
        client.publish(topic, payload, qos=STATE_QOS, retain=True)
        marker = client.publish(self.topics.availability, "online", qos=MARKER_QOS, retain=True)
        if marker.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._denied.published(topic, marker.mid)

    def commands(self, timeout: float = 0.0) -> list[Command]:
        return self._inbox.take(timeout)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected with the command topics subscribed (for tests and tools; the daemon never waits)."""
        return self._ready.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until the broker has acknowledged every event in the outbox; False on timeout."""
        with self._acked:
            return self._acked.wait_for(lambda: len(self._outbox) == 0, timeout)

    def close(self) -> None:
        """Publish ``offline``, disconnect and stop the threads; events not yet acknowledged stay in the outbox."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        client = self._client
        if client is not None:
            if self._connected and self._close_timeout > 0:
                # Let events in flight get their PUBACK, so the next start does not send them again.
                self.flush(self._close_timeout)
            self._closing = True
            client.publish(self.topics.availability, "offline", qos=STATE_QOS, retain=True)
            client.disconnect()
            client.loop_stop()
            self._connected = False
        if self._pump_thread is not None:
            self._stopping = True
            self._signals.put(None)
            self._pump_thread.join()

    # --- the pump thread -------------------------------------------------------------------------

    def _run_pump(self) -> None:
        while True:
            signals = [self._signals.get()]
            while not self._signals.empty():
                signals.append(self._signals.get())
            # This thread must outlive any one failure (a full disk, a closed outbox): log and carry on.
            for signal in signals:
                try:
                    self._note(signal)
                except OutboxError as exc:
                    # A full or read-only disk: one line; the event stays and is sent again after a restart.
                    log.error("outbox pump could not record %s: %s", signal, exc)
                except Exception:
                    log.exception("%s: outbox pump failed to record %s", self._outbox.path, signal)
            if self._stopping:
                return
            try:
                self._pump.hand_over(self._send)
            except OutboxError as exc:
                log.error("outbox pump failed (%s); retrying at the next event", exc)
            except Exception:
                log.exception("%s: outbox pump failed; retrying at the next event", self._outbox.path)

    def _note(self, signal: _Signal) -> None:
        if isinstance(signal, _Link):
            self._pump.link(signal.up)
            return
        if signal is None:
            return
        refused = signal.reason.is_failure
        with self._state_lock:
            if self._denied.acked(signal.mid):
                return
        event_id = self._pump.acked(signal.mid, refused=refused)
        if event_id is None:
            return  # a QoS 0 availability or door message
        if refused:
            # Only MQTT 5 brokers can refuse a single message; the pump keeps it for the next start.
            log.error("MQTT broker refused event %s (%s); it stays in the outbox", event_id, signal.reason)
            return
        with self._acked:
            self._acked.notify_all()

    def _send(self, event: Event) -> int | None:
        """Hand ``event`` to paho: its mid, or None if paho did not take it."""
        assert self._client is not None
        payload = json.dumps(event.to_dict(), separators=(",", ":"))
        info = self._client.publish(self.topics.event, payload, qos=EVENT_QOS, retain=False)
        # NO_CONN still means paho holds the message and sends it once connected.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.error("paho did not take event %s (%s); retrying at the next event", event.id, info.rc)
            return None
        return info.mid

    # --- paho callbacks (paho's network thread) ----------------------------------------------------

    def _note_outage(self, level: int, message: str, *args: object) -> None:
        """Log the first failure of an outage at ``level`` and its retries at DEBUG."""
        if self._outage_logged:
            log.debug(message, *args)
            return
        self._outage_logged = True
        log.log(level, message, *args)

    @_guarded
    def _on_connect(
        self, client: Client, userdata: object, flags: ConnectFlags, reason: ReasonCode, properties: Properties | None
    ) -> None:
        if reason.is_failure:
            self._note_outage(
                logging.ERROR, "MQTT broker %s:%d refused the connection: %s", self._host, self._port, reason
            )
            return
        with self._state_lock:
            self._connected = True
            self._broker_max = getattr(properties, "MaximumPacketSize", None)
            self._too_big_logged = False
            self._signals.put(_Link(up=True))
            if self._door is not None:
                client.publish(self.topics.door, self._door.value, qos=STATE_QOS, retain=True)
            client.publish(self.topics.availability, "online", qos=STATE_QOS, retain=True)
            if self._presence is not None:
                client.publish(self.topics.presence, _ON_OFF[self._presence], qos=STATE_QOS, retain=True)
            for item in self._announcements:
                client.publish(item.topic, item.payload, qos=STATE_QOS, retain=True)
            # Last: a broker whose ACL denies one of these may drop the connection there.
            for topic in self._newer:
                self._send_newer(client, topic)
        client.subscribe([(topic, COMMAND_QOS) for topic in self._command_names])
        log.info(
            "%s MQTT broker %s:%d (%d events waiting in the outbox)",
            "reconnected to" if self._outage_logged else "connected to",
            self._host,
            self._port,
            len(self._outbox),
        )
        self._outage_logged = False

    @_guarded
    def _on_connect_fail(self, client: Client, userdata: object) -> None:
        # Paho calls this from inside its ``except OSError``, so the error it does not pass us is the
        # one being handled: it tells a refused port from a failed TLS handshake.
        error = sys.exc_info()[1]
        self._note_outage(
            logging.WARNING,
            "cannot connect to MQTT broker %s:%d (%s); events wait in the outbox, retrying",
            self._host,
            self._port,
            f"{type(error).__name__}: {error}" if error is not None else "no reason given",
        )

    @_guarded
    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected = False
        self._ready.clear()
        self._signals.put(_Link(up=False))
        if self._closing:
            return
        with self._state_lock:
            refused = self._denied.dropped()
        for topic in refused:
            log.error(
                "MQTT broker %s:%d dropped the connection twice right after %s: its ACL probably denies it; "
                "not published again until a restart (let the door's user write it: docs/home-assistant.md)",
                self._host,
                self._port,
                topic,
            )
        self._note_outage(
            logging.WARNING,
            "lost the connection to MQTT broker %s:%d (%s); events wait in the outbox, retrying",
            self._host,
            self._port,
            reason,
        )

    @_guarded
    def _on_publish(
        self, client: Client, userdata: object, mid: int, reason: ReasonCode, properties: Properties
    ) -> None:
        self._signals.put(_Acked(mid, reason))

    @_guarded
    def _on_subscribe(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error(
                "MQTT broker %s:%d refused the command subscription (%s); remote commands will not arrive",
                self._host,
                self._port,
                ", ".join(str(reason) for reason in reasons),
            )
        self._ready.set()

    @_guarded
    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        name = self._command_names.get(message.topic)
        if name is not None:
            self._inbox.offer(name, bytes(message.payload), retained=message.retain)
