"""The outbox pump's decisions: which stored events to hand to the MQTT client, and which to delete.

Pure bookkeeping, with no threads and no network: :class:`edgeface.mqtt.client.MqttPublisher` owns one
:class:`OutboxPump`, touches it only from its pump thread, and feeds it what paho reports (the link
came up or went down, message ``mid`` was acknowledged or refused). The rules below give the delivery
guarantees described in :mod:`edgeface.mqtt.client`:

* Events are handed over oldest first, each at most once per process: the pump remembers the highest
  outbox ``seq`` it handed over and only ever asks for newer ones.
* At most ``max_inflight`` handed-over events wait for their acknowledgement at a time (paho is given
  the same limit): the rest wait in the outbox, on disk, not in paho's memory.
* An acknowledged event is deleted from the outbox. A refused one (only MQTT 5 brokers refuse a single
  message) stays there, so the next start sends it again; either way its slot is free.
* Nothing is handed over while the link is down.
* After the link comes back, paho first re-sends, in order, the events it still holds; new events wait
  until the first of those is acknowledged, or they could be written before them and overtake them.
  With nothing held, sending resumes at once.
* An acknowledgement of a message id the pump did not hand over (paho also reports QoS 0
  availability and door messages) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeAlias

from edgeface.values import Event

__all__ = ["OutboxPump", "OutboxView", "Send"]


class OutboxView(Protocol):
    """What the pump needs of :class:`edgeface.storage.outbox.Outbox`."""

    def pending(self, limit: int, after: int) -> list[tuple[int, Event]]:
        """Up to ``limit`` waiting events with ``seq > after``, oldest first, as ``(seq, event)``."""
        ...

    def ack(self, event_id: str) -> bool:
        """Delete a delivered event."""
        ...


Send: TypeAlias = Callable[[Event], int | None]
"""Hands one event to the client: the message id it will be acknowledged under, or None if the
client did not take it (the pump stops there and offers it again at the next :meth:`OutboxPump.hand_over`)."""


class OutboxPump:
    """In-flight bookkeeping between an outbox and an MQTT client; not thread-safe (one thread drives it)."""

    def __init__(self, outbox: OutboxView, max_inflight: int) -> None:
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be at least 1, not {max_inflight}")
        self._outbox = outbox
        self._max_inflight = max_inflight
        self._in_flight: dict[int, str] = {}  # message id -> id of an event the client holds, not yet acked
        self._handed = 0  # the highest outbox seq handed over
        self._link_up = False
        self._may_send = False

    @property
    def in_flight(self) -> int:
        """How many handed-over events wait for their acknowledgement."""
        return len(self._in_flight)

    def link(self, up: bool) -> None:
        """The connection came up (after CONNACK) or went down."""
        self._link_up = up
        self._may_send = up and not self._in_flight

    def acked(self, mid: int, *, refused: bool = False) -> str | None:
        """The broker acknowledged (or, ``refused``, rejected) message ``mid``: the event id it carried,
        or None when the pump did not hand that message over.

        An accepted event is deleted from the outbox last, so an OutboxError from that deletion leaves
        the bookkeeping done and the event in the outbox (it is sent again at the next start).
        """
        event_id = self._in_flight.pop(mid, None)
        if event_id is None:
            return None
        self._may_send = self._link_up
        if not refused:
            self._outbox.ack(event_id)
        return event_id

    def hand_over(self, send: Send) -> int:
        """Give ``send`` the next waiting events that the rules allow; how many it took."""
        room = self._max_inflight - len(self._in_flight)
        if not self._may_send or room <= 0:
            return 0
        taken = 0
        for seq, event in self._outbox.pending(room, after=self._handed):
            mid = send(event)
            if mid is None:
                break
            self._in_flight[mid] = event.id
            self._handed = seq
            taken += 1
        return taken
