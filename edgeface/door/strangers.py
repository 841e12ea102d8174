"""Strangers: one report per door per cooldown, and one per stranger while they stay around.

The decider reports an unknown face at most once per track (``decide.unknown_cooldown_seconds``),
but a track lives only as long as the tracker keeps a face: when a face turns away and back, or
several strangers cross the frame, every few seconds brings a new track, and the demo clip made
243 unknown events in ten minutes — a notification every few seconds. :class:`StrangerGate` folds
those decisions into few reports:

* **Per door.** After a stranger is reported, no other stranger is for ``cooldown`` seconds.
* **Per face.** A stranger whose embedding is at least ``same`` similar to a reported stranger's,
  seen within the last ``memory`` seconds, is that stranger again: not reported again for as long as
  they keep being seen. ``same`` is the match threshold, the similarity at which the door would call
  two faces one person. A stranger only folded into someone else's cooldown is not remembered: they
  get a report of their own once the cooldown is over.

Nothing is lost: every folded decision is counted, and the next report takes the count
(:meth:`StrangerGate.take_folded`), which the event carries as ``suppressed``.

Pure: time comes from ``clock`` (monotonic by default, like the decider's cooldowns), vectors are
L2-normalised rows as the embedder makes them, and memory is bounded (:data:`MAX_FACES`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeface.values import Vectors

MAX_FACES = 64
"""Strangers remembered at once; the one seen longest ago is forgotten first."""


@dataclass
class _Seen:
    vector: Vectors
    """The embedding when reported (1×D): a face drifting frame by frame must not drag the cluster along."""
    last: float
    """When this stranger was last seen."""


class StrangerGate:
    """Which unknown decisions to report; see the module docstring for the rules."""

    def __init__(self, cooldown: float, memory: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown, self.memory = cooldown, memory
        self._clock = clock
        self._reported: float | None = None
        self._seen: list[_Seen] = []
        self._folded = 0
        # What the last admission changed, so that a report dropped after it can take it back.
        self._undo: tuple[float | None, _Seen | None] | None = None

    def admit(self, vector: Vectors | None, same: float) -> bool:
        """True if this unknown decision is to be reported; False if it is folded (and counted).

        ``vector`` is the stranger's embedding in the deciding frame (None: unknown, so only the per-door
        cooldown applies); ``same`` the similarity from which two faces are one person.
        """
        now = self._clock()
        # A clock that went backwards (an injected one) ends the memory rather than freezing it.
        self._seen = [s for s in self._seen if 0.0 <= now - s.last < self.memory]
        known = vector is not None and self._recognise(vector, same, now)
        cooling = self._reported is not None and 0.0 <= now - self._reported < self.cooldown
        if known or cooling:
            self._folded += 1
            self._undo = None
            return False
        remembered = None
        if vector is not None and self.memory > 0:
            remembered = _Seen(np.asarray(vector, np.float32).reshape(1, -1), now)
            self._seen.append(remembered)
            if len(self._seen) > MAX_FACES:
                self._seen.remove(min(self._seen, key=lambda s: s.last))
        self._undo, self._reported = (self._reported, remembered), now
        return True

    def withdraw(self) -> None:
        """The report just admitted was not made (the decision rate limit dropped it): forget it.

        Otherwise the door would stay in cooldown, and the stranger remembered, for a report nobody saw.
        """
        if self._undo is None:
            return
        self._reported, remembered = self._undo
        if remembered is not None and remembered in self._seen:
            self._seen.remove(remembered)
        self._undo = None

    def take_folded(self) -> int:
        """How many decisions were folded since the last report, for the report being made now; resets it."""
        folded, self._folded = self._folded, 0
        return folded

    @property
    def folded(self) -> int:
        """Decisions folded and not yet summed up in a report."""
        return self._folded

    def _recognise(self, vector: Vectors, same: float, now: float) -> bool:
        """Whether ``vector`` is a reported stranger seen lately; they are then seen again now."""
        if not self._seen:
            return False
        similarities = np.vstack([s.vector for s in self._seen]) @ np.asarray(vector, np.float32).reshape(-1)
        best = int(np.argmax(similarities))
        if similarities[best] < same:
            return False
        self._seen[best].last = now
        return True
