"""Session takeovers: the broker ends our session because another client connected with our client id.

MQTT lets one session per client id exist: whoever connects with a door's id knocks the door off, the
door reconnects and knocks the other off in turn. A client doing so every few seconds keeps the door's
link flapping and its commands lost, and left to the usual "lost the connection" warning it reads like
a bad network, once per flap. An MQTT 5 broker may say so (DISCONNECT reason 142, ``Session taken
over``); mosquitto 2.0 just closes the socket. So a takeover is either that reason, or the broker
closing a working connection and taking the reconnect at once, :data:`FLAPS` times within
:data:`FLAP_WINDOW_SECONDS`. It is logged once, as one clear error line; further ones are counted
(one line at 10, 100, 1,000...) and no longer logged as lost connections. The fix is on the broker:
pin each client id to its user (docs/mqtt.md).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["SESSION_TAKEN_OVER", "TakeoverWatch"]

SESSION_TAKEN_OVER = 142
"""The reason code of an MQTT 5 DISCONNECT the broker sends when another client takes the session."""
FLAPS = 3
FLAP_WINDOW_SECONDS = 60.0
BACK_AT_ONCE_SECONDS = 3.0
"""A reconnect this soon after the broker closed the connection: the broker was fine, the session was not."""


class TakeoverWatch:
    """Tells takeovers of one client's session from outages, and logs them as described above."""

    def __init__(self, log: logging.Logger, client_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self._client_id, self._clock = log, client_id, clock
        self._dropped: float | None = None
        self._flaps: deque[float] = deque(maxlen=FLAPS)
        self.count = 0

    def disconnected(self, reason: ReasonCode) -> bool:
        """Note a disconnect; True if it is a takeover already reported (the caller need not log it)."""
        self._dropped = self._clock()
        if reason.value == SESSION_TAKEN_OVER:
            self._note()
        return self.count > 0

    def connected(self) -> None:
        """Note a connect: back at once after the broker closed the connection is one flap."""
        now, dropped, self._dropped = self._clock(), self._dropped, None
        if dropped is None or now - dropped > BACK_AT_ONCE_SECONDS:
            return
        self._flaps.append(now)
        if self.count or (len(self._flaps) == FLAPS and now - self._flaps[0] <= FLAP_WINDOW_SECONDS):
            self._note()

    def _note(self) -> None:
        self.count += 1
        if self.count == 1:
            self._log.error(
                "another client is connecting to the broker with this door's client id %s and taking its "
                "session over (the broker keeps closing the connection and taking it back at once): someone "
                "else holds this id and broker credentials; pin client ids to users on the broker (docs/mqtt.md)",
                self._client_id,
            )
        elif str(self.count).strip("0") == "1":
            self._log.error("the session of client id %s was taken over %d times", self._client_id, self.count)
