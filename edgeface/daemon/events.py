"""The one way a decision leaves the daemon: :meth:`EventRecorder.record`.

Every event — a recognition decision or a remote unlock — goes through the same steps in the same
order, so no path can skip one: the outbox first (through the publisher, fsynced; if it cannot be
stored this raises and the caller must not move the relay), then the decision counter, the audit
log, the live page and one INFO line for the journal. A remote LOCK is no event, but gets its
journal line here too (:meth:`EventRecorder.note_lock`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from edgeface.daemon.metrics import Metrics
from edgeface.daemon.web import LiveView
from edgeface.door.ports import EventSink
from edgeface.storage.audit import AuditLog
from edgeface.values import Event, EventType

log = logging.getLogger(__name__)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventRecorder:
    """Builds events for one door and fans each out to every place that keeps or shows it."""

    def __init__(
        self,
        device_id: str,
        publisher: EventSink,
        metrics: Metrics,
        *,
        audit: AuditLog | None = None,
        web: LiveView | None = None,
    ) -> None:
        self.device_id = device_id
        self._publisher = publisher
        self._metrics = metrics
        self._audit = audit
        self._web = web

    def record(
        self,
        kind: EventType,
        person: str | None,
        similarity: float,
        frames: int,
        reason: str | None = None,
        *,
        suppressed: int | None = None,
    ) -> Event:
        """Store the event durably, then count, audit, show and log it; raises if it cannot be stored.

        ``suppressed``: on an unknown event, the stranger decisions folded into it since the last one."""
        event = Event(
            id=str(uuid.uuid4()),
            ts=utc_now(),
            device=self.device_id,
            type=kind,
            person=person,
            similarity=similarity,
            frames=frames,
            reason=reason,
            suppressed=suppressed,
        )
        self._publisher.publish_event(event)
        self._metrics.decisions.labels(kind.value).inc()
        if self._audit is not None:
            self._audit.record(event)
        if self._web is not None:
            self._web.add_event(event)
        log.info(
            "decision type=%s person=%s similarity=%.3f frames=%d reason=%s%s id=%s",
            kind.value,
            person or "-",
            similarity,
            frames,
            reason or "-",
            f" suppressed={suppressed}" if suppressed is not None else "",
            event.id,
        )
        return event

    def note_lock(self, *, ended: bool) -> None:
        """A remote LOCK, for the journal: it is no decision (no event, no audit entry), but who locked matters."""
        if ended:
            log.info("remote lock: the unlock in progress ended early, door locked")
        else:
            log.info("remote lock: the door was already locked")
