"""Which of the door's newer topics (health, snapshot) a broker denies: pure bookkeeping, no I/O.

A broker ACL written before these topics existed does not let the door write them, and a broker
may then drop the connection at the denied publish (mosquitto 2.0 does, over TLS at least, with a
TCP reset that also loses any reply in flight): a door that publishes them at every connect would
reconnect for ever. So each time the client publishes newer topics it follows them with a
*marker*, a QoS 1 message the old ACL allows (``online`` on the availability topic, which is
always true while connected). The broker handles one connection's packets in order, so the
marker's PUBACK means the newer topics before it did not cost the connection. A connection lost
before that PUBACK is a strike against each of them; :data:`STRIKES` in a row and a topic is
refused: not published again until a restart. A broker restart or a network cut at that exact
moment is a strike too, but two in a row at the same moment are not a thing that happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRIKES = 2
"""Connections lost in a row right after a topic was published before it is taken as denied."""


@dataclass
class DeniedTopics:
    """The strikes against the newer topics, for one client; see the module docstring."""

    refused: set[str] = field(default_factory=set)
    _markers: dict[int, str] = field(default_factory=dict)
    """Marker message id → the topic published just before it, until its PUBACK."""
    _strikes: dict[str, int] = field(default_factory=dict)

    def allowed(self, topic: str) -> bool:
        return topic not in self.refused

    def published(self, topic: str, marker: int) -> None:
        """``topic`` was just published on this connection, then a marker with message id ``marker``."""
        self._markers[marker] = topic

    def acked(self, mid: int) -> bool:
        """A PUBACK; True if it was a marker's (the topic before it passed), False if it is none of ours."""
        topic = self._markers.pop(mid, None)
        if topic is None:
            return False
        self._strikes.pop(topic, None)
        return True

    def dropped(self) -> list[str]:
        """The connection was lost: a strike against each topic not yet vouched for; returns those now refused."""
        refused = []
        for topic in sorted(set(self._markers.values())):
            self._strikes[topic] = self._strikes.get(topic, 0) + 1
            if self._strikes[topic] >= STRIKES:
                self.refused.add(topic)
                refused.append(topic)
        # A marker in flight is re-sent by paho after the reconnect, behind that connection's own: forget it.
        self._markers.clear()
        return refused
