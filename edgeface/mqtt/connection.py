"""The door's connection to its broker: one paho 2.x client, started by :meth:`Connection.start`.

Making a :class:`Connection` checks the settings (TLS files included) and builds the client, but
sends nothing: the composition root builds every part first, then starts it. :meth:`start` only
records where to go and starts paho's thread, which connects, so a missing broker never blocks the
caller; paho reconnects on its own, with its back-off capped at :data:`RECONNECT_DELAY`'s few
seconds, so a door is back within moments of its broker.

MQTT 5 (mosquitto 1.6 and later), so that CONNECT can carry a Maximum Packet Size of
:data:`MAX_PACKET_BYTES`: the broker then drops any larger message instead of sending it, and a
250 MiB publish to ``cmd/unlock`` costs the door nothing (paho would buffer a whole packet before
anything could look at it). The last will is ``offline`` on the availability topic.

Paho runs the callbacks below on its network thread with callback API v2 and :class:`ReasonCode`
objects (``reason.is_failure``; a refusal ends its branch). They log the connection's story, one
line per outage and its end, and pass everything else on to the handlers the owner gave.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edgeface.config import MqttConfig
from edgeface.mqtt import payloads
from edgeface.mqtt.broker import acknowledged, broker_client
from edgeface.mqtt.commands import MAX_COMMAND_BYTES
from edgeface.mqtt.guard import guarded
from edgeface.mqtt.takeover import TakeoverWatch
from edgeface.values import JOURNAL

__all__ = ["MAX_PACKET_BYTES", "RECONNECT_DELAY", "Connection"]

log = logging.getLogger(__name__)
_guarded = guarded(log, "MQTT")

WILL_QOS = 1
GOODBYE_QOS = 1
COMMAND_QOS = 1
MAX_PACKET_BYTES = MAX_COMMAND_BYTES + 3 * 1024
"""The largest packet the broker may send us: a command payload at its limit, its topic and headers."""
RECONNECT_DELAY = (1, 3)
"""Paho's back-off between reconnect attempts, (first, most) in whole seconds."""
MARKER_ROOM = 8
"""Markers in flight at once beyond the events (a camera flapping makes one per change)."""


class Connection:
    """One client to ``cfg``'s broker; see the module docstring.

    ``availability`` is the topic of the last will and the goodbye; ``subscriptions`` the topics
    subscribed on every connect. Handlers, all on paho's thread: ``on_up(client, broker_max)`` after
    each CONNACK (``broker_max``: the broker's Maximum Packet Size, None if it set none),
    ``on_down(closing)`` when the link drops, ``on_acked(mid, reason)`` for every PUBACK (and QoS 0
    write), ``on_message(topic, payload, retained)``. ``waiting()`` counts the events in the outbox
    for the line that says the link is up.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        *,
        availability: str,
        subscriptions: list[str],
        max_inflight: int,
        reconnect_delay: tuple[int, int],
        on_up: Callable[[Client, int | None], None],
        on_down: Callable[[bool], None],
        on_acked: Callable[[int, ReasonCode], None],
        on_message: Callable[[str, bytes, bool], None],
        waiting: Callable[[], int],
    ) -> None:
        self._cfg = cfg
        self.where = f"{cfg.host}:{cfg.port}"
        self._availability = availability
        self._subscriptions = subscriptions
        self._on_up, self._on_down, self._on_acked, self._on_message = on_up, on_down, on_acked, on_message
        self._waiting = waiting
        self.connected = False
        self._ready = threading.Event()
        self._outage_logged = False
        self._started = False
        self._closing = False
        self._takeovers = TakeoverWatch(log, client_id)
        client = broker_client(cfg, client_id, log=log)
        # No client.enable_logger(): paho logs an ERROR on every reconnect attempt, and an outage must
        # be logged once. Our callbacks log their own failures (see _guarded).
        # Room beyond the pump's events for the markers, so that none waits in paho's queue: one sent after
        # close()'s "offline" would leave the door "online" on the broker.
        client.max_inflight_messages = max_inflight + MARKER_ROOM
        client.reconnect_delay_set(*reconnect_delay)
        client.will_set(availability, payloads.OFFLINE, qos=WILL_QOS, retain=True)
        client.on_connect = self._connected
        client.on_connect_fail = self._connect_failed
        client.on_disconnect = self._disconnected
        client.on_publish = self._published
        client.on_subscribe = self._subscribed
        client.on_message = self._received
        self.client = client

    def start(self) -> None:
        """Start connecting (on paho's thread); returns at once. Starting again does nothing."""
        if self._started:
            return
        self._started = True
        connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
        connect.MaximumPacketSize = MAX_PACKET_BYTES
        # connect_async only records where to go: paho's thread connects, so a missing broker never blocks us.
        # clean_start: no session survives us, as with MQTT 3.1.1's clean session (and its expiry is 0).
        cfg = self._cfg
        self.client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive, clean_start=True, properties=connect)
        self.client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until connected with the subscriptions made."""
        return self._ready.wait(timeout)

    def close(self, farewell: Sequence[tuple[str, str]] = (), timeout: float = 1.0) -> None:
        """Say ``offline``, then publish ``farewell`` (retained states a stopped door must not leave behind),
        wait up to ``timeout`` for the broker to acknowledge them, disconnect and stop paho's thread;
        nothing to do if never started."""
        if not self._started or self._closing:
            return
        self._closing = True
        *first, (topic, payload) = [(self._availability, payloads.OFFLINE), *farewell]
        for earlier in first:
            self.client.publish(*earlier, qos=0, retain=True)
        # The last at QoS 1, and DISCONNECT only after its PUBACK, which says the broker has read all of the
        # goodbye: closing the socket while a PUBACK sits unread in it sends a TCP reset, and the broker then
        # drops whatever it had not read yet.
        last = self.client.publish(topic, payload, qos=GOODBYE_QOS, retain=True)
        if self.connected and timeout > 0 and not acknowledged(last, timeout):
            log.warning("MQTT broker %s did not acknowledge the goodbye within %.1f s", self.where, timeout)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected = False

    def _note_outage(self, level: int, message: str, *args: object) -> None:
        """Log the first failure of an outage at ``level`` and its retries at DEBUG."""
        if self._outage_logged:
            log.debug(message, *args)
            return
        self._outage_logged = True
        log.log(level, message, *args)

    # --- paho callbacks (paho's network thread) ----------------------------------------------------

    @_guarded
    def _connected(
        self, client: Client, userdata: object, flags: ConnectFlags, reason: ReasonCode, properties: Properties | None
    ) -> None:
        if reason.is_failure:
            self._note_outage(logging.ERROR, "MQTT broker %s refused the connection: %s", self.where, reason)
            return
        self.connected = True
        self._takeovers.connected()
        self._on_up(client, getattr(properties, "MaximumPacketSize", None))
        client.subscribe([(topic, COMMAND_QOS) for topic in self._subscriptions])
        log.info(
            "%s MQTT broker %s (%d events waiting in the outbox)",
            "reconnected to" if self._outage_logged else "connected to",
            self.where,
            self._waiting(),
            extra=JOURNAL,
        )
        self._outage_logged = False

    @_guarded
    def _connect_failed(self, client: Client, userdata: object) -> None:
        # Paho calls this from inside its ``except OSError``, so the error it does not pass us is the
        # one being handled: it tells a refused port from a failed TLS handshake.
        error = sys.exc_info()[1]
        self._note_outage(
            logging.WARNING,
            "cannot connect to MQTT broker %s (%s); events wait in the outbox, retrying",
            self.where,
            f"{type(error).__name__}: {error}" if error is not None else "no reason given",
        )

    @_guarded
    def _disconnected(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected = False
        self._ready.clear()
        self._on_down(self._closing)
        if self._closing or self._takeovers.disconnected(reason):
            return
        self._note_outage(
            logging.WARNING,
            "lost the connection to MQTT broker %s (%s); events wait in the outbox, retrying",
            self.where,
            reason,
        )

    @_guarded
    def _published(
        self, client: Client, userdata: object, mid: int, reason: ReasonCode, properties: Properties
    ) -> None:
        self._on_acked(mid, reason)

    @_guarded
    def _subscribed(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error(
                "MQTT broker %s refused the command subscription (%s); remote commands will not arrive",
                self.where,
                ", ".join(str(reason) for reason in reasons),
            )
        self._ready.set()

    @_guarded
    def _received(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        self._on_message(message.topic, bytes(message.payload), message.retain)
