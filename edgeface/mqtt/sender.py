"""The outbox pump's thread: it hands stored events to paho and deletes them as their PUBACKs arrive.

:meth:`OutboxSender.wake` after an event is stored, and the thread hands the oldest waiting ones
over, at most ``max_inflight`` at a time; the rules (order, once per process, waiting for paho's
re-sends after a reconnect) are :class:`edgeface.mqtt.pump.OutboxPump`'s, and this thread alone
touches the pump. Paho's callbacks only post signals here (:meth:`link`, :meth:`acked`), so no lock
of ours is ever taken while paho holds its own (its on_publish runs under its message mutex).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from paho.mqtt.reasoncodes import ReasonCode

from edgeface.mqtt.pump import OutboxPump, Send
from edgeface.storage.outbox import Outbox, OutboxError

__all__ = ["OutboxSender"]

log = logging.getLogger(__name__)


class _Acked(NamedTuple):
    """Paho's on_publish: the broker acknowledged message ``mid`` (or paho wrote a QoS 0 one)."""

    mid: int
    reason: ReasonCode


class _Link(NamedTuple):
    """The connection came up (after CONNACK) or went down."""

    up: bool


_Signal: TypeAlias = _Acked | _Link | None
"""What the thread is told; None only wakes it (a new event, or stop)."""


class OutboxSender:
    """Runs an :class:`OutboxPump` over ``outbox`` on its own thread once :meth:`start`-ed.

    ``send`` hands one event to paho (its message id, or None); ``claims(mid)`` says whether a PUBACK
    belongs to someone else (a retained topic's marker), checked before the pump sees it.
    """

    def __init__(
        self, outbox: Outbox, max_inflight: int, send: Send, *, claims: Callable[[int], bool], name: str
    ) -> None:
        self._outbox = outbox
        self._pump = OutboxPump(outbox, max_inflight)
        self._send = send
        self._claims = claims
        self._signals: queue.SimpleQueue[_Signal] = queue.SimpleQueue()
        self._acked = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopping = False

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """An event was stored: hand it over if the rules allow."""
        if self._thread.is_alive():
            self._signals.put(None)

    def link(self, up: bool) -> None:
        self._signals.put(_Link(up))

    def acked(self, mid: int, reason: ReasonCode) -> None:
        self._signals.put(_Acked(mid, reason))

    def flush(self, timeout: float) -> bool:
        """Wait until the broker has acknowledged every event in the outbox; False on timeout."""
        with self._acked:
            return self._acked.wait_for(lambda: len(self._outbox) == 0, timeout)

    def stop(self) -> None:
        """End the thread (after the signals already posted); events not yet acknowledged stay in the outbox."""
        if self._thread.is_alive():
            self._stopping = True
            self._signals.put(None)
            self._thread.join()

    def _run(self) -> None:
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
        if signal is None or self._claims(signal.mid):
            return
        refused = signal.reason.is_failure
        event_id = self._pump.acked(signal.mid, refused=refused)
        if event_id is None:
            return  # a QoS 0 availability or door message
        if refused:
            # Only MQTT 5 brokers can refuse a single message; the pump keeps it for the next start.
            log.error("MQTT broker refused event %s (%s); it stays in the outbox", event_id, signal.reason)
            return
        with self._acked:
            self._acked.notify_all()
