"""The outbox pump's rules, without a broker: what it hands to the client, and what it deletes.

Each test drives a :class:`OutboxPump` over a real :class:`Outbox` (SQLite in ``tmp_path``, the
``outbox`` fixture of tests/support/events.py) with the signals paho would give it. ``Paho`` stands
in for the client: it numbers messages like paho does and remembers what it holds; the broker's
answers are the test's calls to ``pump.acked``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeface.mqtt.pump import OutboxPump
from edgeface.storage.outbox import Outbox
from edgeface.values import Event
from tests.support.events import make_event


class Paho:
    """The client side of ``hand_over``: numbers the events it takes, and refuses those in ``refuse``."""

    def __init__(self) -> None:
        self.taken: list[Event] = []
        self.mids: dict[str, int] = {}  # event id -> the message id it was taken under
        self.refuse: set[str] = set()
        self._next_mid = 0

    def send(self, event: Event) -> int | None:
        if event.id in self.refuse:
            return None
        self._next_mid += 1
        self.taken.append(event)
        self.mids[event.id] = self._next_mid
        return self._next_mid

    def ids(self) -> list[str]:
        return [e.id for e in self.taken]


def put(outbox: Outbox, count: int, start: int = 0) -> list[Event]:
    events = [make_event(start + i) for i in range(count)]
    for event in events:
        outbox.put(event)
    return events


def waiting(outbox: Outbox) -> list[str]:
    return [e.id for _, e in outbox.pending(limit=1000, after=0)]


def ids(events: list[Event]) -> list[str]:
    return [e.id for e in events]


def test_nothing_is_handed_over_until_the_link_is_up(outbox: Outbox) -> None:
    events = put(outbox, 3)
    pump, paho = OutboxPump(outbox, max_inflight=20), Paho()

    assert pump.hand_over(paho.send) == 0
    pump.link(up=True)
    assert pump.hand_over(paho.send) == 3

    assert paho.ids() == ids(events)  # oldest first
    assert waiting(outbox) == ids(events)  # still stored: nothing is acknowledged yet


def test_an_acknowledged_event_is_deleted_and_each_event_is_handed_over_once(outbox: Outbox) -> None:
    first, second = put(outbox, 2)
    pump, paho = OutboxPump(outbox, max_inflight=20), Paho()
    pump.link(up=True)
    pump.hand_over(paho.send)

    assert pump.acked(paho.mids[first.id]) == first.id
    assert waiting(outbox) == [second.id]
    assert pump.hand_over(paho.send) == 0  # the second is with paho already
    (third,) = put(outbox, 1, start=2)
    assert pump.hand_over(paho.send) == 1
    assert paho.ids() == ids([first, second, third])


def test_at_most_max_inflight_are_handed_over_and_each_ack_frees_one_slot(outbox: Outbox) -> None:
    events = put(outbox, 5)
    pump, paho = OutboxPump(outbox, max_inflight=3), Paho()
    pump.link(up=True)

    assert pump.hand_over(paho.send) == 3
    assert pump.in_flight == 3
    assert pump.hand_over(paho.send) == 0

    pump.acked(paho.mids[events[0].id])
    assert pump.hand_over(paho.send) == 1
    assert pump.in_flight == 3
    assert paho.ids() == ids(events[:4])  # the fifth waits in the outbox, not with paho


def test_after_a_reconnect_new_events_wait_until_the_first_resent_one_is_acknowledged(outbox: Outbox) -> None:
    held = put(outbox, 3)
    pump, paho = OutboxPump(outbox, max_inflight=20), Paho()
    pump.link(up=True)
    pump.hand_over(paho.send)

    pump.link(up=False)  # paho keeps the three and re-sends them, in order, after the next CONNACK
    newer = put(outbox, 2, start=3)
    assert pump.hand_over(paho.send) == 0
    pump.link(up=True)
    assert pump.hand_over(paho.send) == 0  # written now, they could overtake the re-sent ones

    assert pump.acked(paho.mids[held[0].id]) == held[0].id
    assert pump.hand_over(paho.send) == 2
    assert paho.ids() == ids(held + newer)  # each once, in order
    for event in held[1:] + newer:
        pump.acked(paho.mids[event.id])
    assert waiting(outbox) == []


def test_a_reconnect_with_nothing_in_flight_resumes_sending_at_once(outbox: Outbox) -> None:
    (sent,) = put(outbox, 1)
    pump, paho = OutboxPump(outbox, max_inflight=20), Paho()
    pump.link(up=True)
    pump.hand_over(paho.send)
    pump.acked(paho.mids[sent.id])

    pump.link(up=False)
    later = put(outbox, 2, start=1)
    assert pump.hand_over(paho.send) == 0  # while down, events wait in the outbox
    pump.link(up=True)
    assert pump.hand_over(paho.send) == 2
    assert paho.ids() == ids([sent, *later])


def test_a_refused_event_stays_in_the_outbox_for_the_next_start_and_frees_its_slot(
    outbox: Outbox,
) -> None:
    refused, other = put(outbox, 2)
    pump, paho = OutboxPump(outbox, max_inflight=1), Paho()
    pump.link(up=True)
    pump.hand_over(paho.send)

    assert pump.acked(paho.mids[refused.id], refused=True) == refused.id
    assert waiting(outbox) == [refused.id, other.id]
    assert pump.in_flight == 0
    assert pump.hand_over(paho.send) == 1
    assert paho.ids() == [refused.id, other.id]  # not again in this process

    restarted, fresh = OutboxPump(outbox, max_inflight=20), Paho()
    restarted.link(up=True)
    restarted.hand_over(fresh.send)
    assert fresh.ids() == [refused.id, other.id]


def test_an_ack_of_a_message_the_pump_did_not_hand_over_changes_nothing(outbox: Outbox) -> None:
    (held,) = put(outbox, 1)
    pump, paho = OutboxPump(outbox, max_inflight=20), Paho()
    pump.link(up=True)
    pump.hand_over(paho.send)
    pump.link(up=False)
    (newer,) = put(outbox, 1, start=1)
    pump.link(up=True)

    # paho reports the QoS 0 "online" written after CONNACK: it must not let newer events overtake.
    assert pump.acked(9999) is None
    assert pump.acked(9999, refused=True) is None
    assert pump.hand_over(paho.send) == 0
    assert pump.in_flight == 1
    assert waiting(outbox) == [held.id, newer.id]


def test_an_event_the_client_did_not_take_is_offered_again_and_nothing_overtakes_it(outbox: Outbox) -> None:
    events = put(outbox, 3)
    pump, paho = OutboxPump(outbox, max_inflight=20), Paho()
    pump.link(up=True)
    paho.refuse = {events[1].id}

    assert pump.hand_over(paho.send) == 1
    assert pump.in_flight == 1
    paho.refuse = set()
    assert pump.hand_over(paho.send) == 2
    assert paho.ids() == ids(events)


def test_max_inflight_must_be_at_least_one(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="max_inflight must be at least 1"):
        OutboxPump(outbox, max_inflight=0)


# --- any sequence of signals -----------------------------------------------------------------------

Step = tuple[str, int]
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(1, 3)),
        st.tuples(st.sampled_from(["up", "down", "hand_over", "unknown_ack"]), st.just(0)),
        st.tuples(st.sampled_from(["ack", "refuse"]), st.integers(0, 5)),  # which held message
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(steps=STEPS, max_inflight=st.integers(1, 4))
def test_any_sequence_of_signals_follows_the_rules(steps: list[Step], max_inflight: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Outbox(Path(tmp) / "outbox.db", max_events=1000) as outbox:
        pump, paho = OutboxPump(outbox, max_inflight), Paho()
        put_order: list[str] = []
        stored: list[str] = []  # what should still be in the outbox, in order
        held: list[str] = []  # what paho holds unacknowledged
        link_up, blocked = False, False  # blocked: reconnected while paho held events, no ack since
        for n, (kind, arg) in enumerate(steps):
            if kind == "put":
                new = ids(put(outbox, arg, start=n))
                put_order += new
                stored += new
            elif kind in ("up", "down"):
                link_up = kind == "up"
                blocked = link_up and bool(held)
                pump.link(up=link_up)
            elif kind == "unknown_ack":
                assert pump.acked(10_000 + n) is None
            elif kind in ("ack", "refuse") and held:
                event_id = held.pop(arg % len(held))
                assert pump.acked(paho.mids[event_id], refused=kind == "refuse") == event_id
                if kind == "ack":
                    stored.remove(event_id)
                blocked = False
            elif kind == "hand_over":
                before = len(paho.taken)
                unsent = len(put_order) - before
                expected = 0 if not link_up or blocked else min(max_inflight - len(held), unsent)
                assert pump.hand_over(paho.send) == expected == len(paho.taken) - before
                held += paho.ids()[before:]
            assert pump.in_flight == len(held) <= max_inflight
            assert waiting(outbox) == stored
            # Handed over oldest first and each once: always the oldest events put, in order.
            assert paho.ids() == put_order[: len(paho.taken)]
