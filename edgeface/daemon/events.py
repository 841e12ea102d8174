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
from typing import ClassVar

from edgeface.config import Config
from edgeface.daemon.metrics import Metrics
from edgeface.daemon.web import LiveView
from edgeface.door.controller import LockResult
from edgeface.door.ports import EventSink
from edgeface.storage.audit import AuditLog
from edgeface.values import Event, EventType

log = logging.getLogger(__name__)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventRecorder:
    """Builds events for one door and fans each out to every place that keeps or shows it."""

    RELOADS: ClassVar[tuple[str, ...]] = ("store.audit_retention_days",)
    """Config keys :meth:`apply` takes on while running."""

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

    def note_lock(self, result: LockResult) -> None:
        """A remote LOCK the door acted on, for the journal: it is no decision (no event, no audit entry), but who
        locked matters. At most ``LOCKS_PER_MINUTE`` a minute: the door controller rate-limits LOCK."""
        log.info("remote lock: %s", _LOCK_LINES[result])

    def apply(self, cfg: Config) -> None:
        """Take on the live keys of ``cfg`` (:attr:`RELOADS`)."""
        if self._audit is not None:
            self._audit.retention = cfg.store.audit_retention_days * 86_400.0


_LOCK_LINES: dict[LockResult, str] = {
    "ended": "the unlock in progress ended early, door locked",
    "already locked": "the door was already locked",
    "face grant": "refused: a face grant's unlock is never cut short; the door locks when its pulse ends",
}
