"""Newer topics a broker denies: two connections lost in a row before the marker after a topic, and it rests."""

from __future__ import annotations

from edgeface.mqtt.denied import STRIKES, DeniedTopics

HEALTH, SNAPSHOT = "edgeface/door1/health", "edgeface/door1/snapshot"


def test_a_topic_after_which_the_connection_is_lost_twice_in_a_row_is_refused() -> None:
    denied = DeniedTopics()
    for connection in range(STRIKES):
        assert denied.allowed(HEALTH)
        denied.published(HEALTH, marker=10 + connection)
        refused = denied.dropped()  # a reset before the marker's PUBACK
    assert refused == [HEALTH] and not denied.allowed(HEALTH)
    assert denied.acked(11) is False, "a marker re-sent after the drop vouches for nothing"


def test_a_markers_puback_vouches_for_its_topic_only_and_clears_its_strikes() -> None:
    denied = DeniedTopics()
    denied.published(HEALTH, marker=1)
    denied.published(SNAPSHOT, marker=2)
    assert denied.acked(1)  # health passed; the connection is lost at the snapshot
    assert denied.dropped() == []
    denied.published(HEALTH, marker=3)
    denied.published(SNAPSHOT, marker=4)
    assert denied.acked(3)
    assert denied.dropped() == [SNAPSHOT]
    assert denied.allowed(HEALTH) and not denied.allowed(SNAPSHOT)


def test_one_unlucky_drop_between_good_connections_refuses_nothing() -> None:
    denied = DeniedTopics()
    for marker in range(0, 12, 2):
        denied.published(HEALTH, marker=marker)
        assert denied.dropped() == []  # a broker restart at that very moment
        denied.published(HEALTH, marker=marker + 1)
        assert denied.acked(marker + 1)
    assert denied.allowed(HEALTH)
    assert denied.acked(99) is False, "an event's PUBACK is not ours"
