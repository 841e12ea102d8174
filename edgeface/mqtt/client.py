"""Publishing decisions over MQTT, and receiving remote commands: the door's MQTT client.

:class:`MqttPublisher` is both door ports (:mod:`edgeface.door.ports`) over MQTT, assembled from
parts with one job each; the topics and their payloads are listed in :mod:`edgeface.mqtt.topics`.
Building it checks the settings and connects nothing; :meth:`MqttPublisher.start` connects, once the
composition root has built (and wired) everything else.

Events
    :meth:`MqttPublisher.publish_event` writes the event to the :class:`~edgeface.storage.outbox.Outbox` and
    returns; it never waits for the network. While connected, a pump thread
    (:class:`~edgeface.mqtt.sender.OutboxSender`) hands the oldest waiting events to paho, at most
    ``max_inflight`` at a time, and deletes each from the outbox when its PUBACK arrives. Events
    handed over but not acknowledged when the connection drops stay with paho, which re-sends them
    first, in order, after the next CONNACK; the pump resumes only after the first of those is
    acknowledged, so newer events cannot overtake them. Everything else waits in the outbox. So each
    event is given to paho once per process, and a broker restart yields every event once and in
    order (the rules are :class:`edgeface.mqtt.pump.OutboxPump`'s).

    What can still repeat (subscribers de-duplicate on ``id``): an event the broker received whose
    PUBACK was lost when the connection dropped (paho re-sends it, flagged DUP), and one whose
    PUBACK arrived after the last outbox write before a crash, or after a close that stopped
    waiting (it is sent again at the next start).

States
    Availability, door, presence, discovery, health and snapshot are retained and re-published on
    every connect, door first (:mod:`edgeface.mqtt.retained`, which also keeps a broker ACL that
    denies the newer topics from dropping the door's connection for ever: :mod:`edgeface.mqtt.denied`).

Connection
    Paho 2.x, MQTT 5, a capped reconnect back-off and one log line per outage
    (:mod:`edgeface.mqtt.connection`).

Commands
    Paho's network thread routes each message on a command topic to the
    :class:`~edgeface.mqtt.inbox.CommandInbox`, which parses and checks it and queues the valid ones;
    the service drains them from its own loop with :meth:`MqttPublisher.commands` and acts there, so
    only the service's thread ever touches the relay. Malformed, unsigned, stale, replayed,
    disallowed and retained commands (a retained unlock would open the door again at every
    reconnect) are dropped with one warning line each, rate-limited.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType

from paho.mqtt.client import Client
from paho.mqtt.enums import MQTTErrorCode

from edgeface.config import MqttConfig
from edgeface.door.commands import Command
from edgeface.mqtt import payloads
from edgeface.mqtt.connection import RECONNECT_DELAY, Connection
from edgeface.mqtt.discovery import Announcement
from edgeface.mqtt.inbox import CommandInbox
from edgeface.mqtt.retained import RetainedStates
from edgeface.mqtt.sender import OutboxSender
from edgeface.mqtt.topics import Topics
from edgeface.storage.nonces import NonceLog
from edgeface.storage.outbox import Outbox
from edgeface.values import DoorState, Event

__all__ = ["MqttPublisher"]

log = logging.getLogger(__name__)

EVENT_QOS = 1


class MqttPublisher:
    """The paho-mqtt 2.x backend. Never blocks the caller on the network; see the module docstring.

    The caller owns ``outbox`` and closes it after this publisher. With ``cfg.enabled`` false
    :meth:`start` connects nothing and events only accumulate in the outbox.
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
        how long :meth:`close` waits for PUBACKs of events in flight, and then of its goodbye;
        ``announcements`` are retained messages (Home Assistant discovery) re-sent on every connect;
        ``door`` is the relay's state now, published first on connect; ``nonces`` keeps the nonces of
        signed commands (None: in memory only).
        Raises ConfigError for an unusable prefix or TLS file; connects nothing."""
        self.topics = Topics.for_device(device_id, prefix)
        self._outbox = outbox
        self._close_timeout = close_timeout
        self._started = False
        self._closed = False
        self._lifecycle = threading.Lock()
        self._inbox = CommandInbox(cfg.remote_unlock, self.topics.commands, log=log, nonces=nonces)
        self._states = RetainedStates(self.topics, door=door, where=f"{cfg.host}:{cfg.port}")
        self._states.announce(announcements)
        self._sender = OutboxSender(
            outbox, max_inflight, self._send, claims=self._states.acked, name=f"edgeface-outbox-{device_id}"
        )
        self._link: Connection | None = None
        if not cfg.enabled:
            return
        self._link = Connection(
            cfg,
            f"edgeface-{device_id}",
            availability=self.topics.availability,
            subscriptions=self._inbox.topics,
            max_inflight=max_inflight,
            reconnect_delay=reconnect_delay,
            on_up=self._link_up,
            on_down=self._link_down,
            on_acked=self._sender.acked,
            on_message=lambda topic, payload, retained: self._inbox.route(topic, payload, retained=retained),
            waiting=lambda: len(outbox),
        )

    @classmethod
    def from_config(
        cls, cfg: MqttConfig, device_id: str, topic_prefix: str, outbox: Outbox, *, door: DoorState, nonces: NonceLog
    ) -> MqttPublisher:
        """The daemon's publisher: ``config.mqtt``, ``config.device_id``, ``config.topic_prefix``, the relay's
        state and the nonce file. Discovery comes later, from the service (:meth:`announce`)."""
        return cls(cfg, outbox, device_id=device_id, prefix=topic_prefix, door=door, nonces=nonces)

    def start(self) -> None:
        """Start the pump thread and connecting (in the background); returns at once.

        Starting again, or after :meth:`close`, does nothing."""
        with self._lifecycle:
            if self._started or self._closed:
                return
            self._started = True
        if self._link is None:
            log.info("MQTT is disabled (mqtt.enabled: false): events are kept in %s only", self._outbox.path)
            return
        self._sender.start()
        log.info("connecting to MQTT broker %s, topics under %s/", self._link.where, self.topics.prefix)
        self._link.start()

    def __enter__(self) -> MqttPublisher:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    @property
    def inbox(self) -> CommandInbox:
        """The command queue, with its ``accepted`` and ``dropped`` counters (for metrics and tests)."""
        return self._inbox

    def publish_event(self, event: Event) -> None:
        """Store ``event`` durably, then let the pump send it. Raises OutboxError if it cannot be stored."""
        self._outbox.put(event)
        self._sender.wake()

    def publish_door(self, state: DoorState) -> None:
        self._states.door(state)

    def publish_presence(self, present: bool) -> None:
        self._states.presence(present)

    def publish_health(self, camera_online: bool) -> None:
        self._states.newer(self.topics.health, payloads.health(camera_online).encode())

    def publish_snapshot(self, jpeg: bytes | None) -> None:
        # Kept in memory only, to be re-published after a reconnect; None (empty) clears the retained one.
        self._states.newer(self.topics.snapshot, jpeg or b"")

    def announce(self, items: Sequence[Announcement]) -> None:
        """Publish these discovery messages (retained) now if connected, and again on every connect."""
        self._states.announce(items)

    def commands(self, timeout: float = 0.0) -> list[Command]:
        return self._inbox.take(timeout)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected with the command topics subscribed (for tests and tools; the daemon never waits)."""
        return self._link is not None and self._link.wait_ready(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until the broker has acknowledged every event in the outbox; False on timeout."""
        return self._sender.flush(timeout)

    def close(self) -> None:
        """Publish ``offline``, disconnect and stop the threads; events not yet acknowledged stay in the outbox."""
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
        if self._link is not None:
            if self._link.connected and self._close_timeout > 0:
                # Let events in flight get their PUBACK, so the next start does not send them again.
                self.flush(self._close_timeout)
            # After "offline" (a flow that hears of the door first reads the rest as a stopped door's), the
            # retained states that would outlive it: nobody in view, no camera watched.
            farewell = [(self.topics.presence, payloads.presence(False)), (self.topics.health, payloads.health(False))]
            self._link.close(farewell, self._close_timeout)
            self._states.link_down(closing=True)
        self._sender.stop()

    def _link_up(self, client: Client, broker_max: int | None) -> None:
        self._sender.link(True)
        self._states.link_up(client, broker_max)

    def _link_down(self, closing: bool) -> None:
        self._sender.link(False)
        self._states.link_down(closing=closing)

    def _send(self, event: Event) -> int | None:
        """Hand ``event`` to paho (on the pump's thread): its mid, or None if paho did not take it."""
        assert self._link is not None  # the pump runs only with a connection
        info = self._link.client.publish(self.topics.event, payloads.event(event), qos=EVENT_QOS, retain=False)
        # NO_CONN still means paho holds the message and sends it once connected.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.error("paho did not take event %s (%s); retrying at the next event", event.id, info.rc)
            return None
        return info.mid
