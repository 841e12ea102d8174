"""The frame loop's jobs: loading the people, the face image purge, the stats line, the live page's health figures.

Each is a plain function of the parts it reads, called by :class:`~edgeface.daemon.loop.Service` on its
own schedule (the people at start and when :class:`PeopleReloads` says, the purge at start and daily, the
stats every few minutes and at exit, the health figures whenever the live page asks).
"""

from __future__ import annotations

import logging
import math
import time

from edgeface import __version__
from edgeface.capture.camera import Camera
from edgeface.config import Config
from edgeface.config.camera import redact_url
from edgeface.daemon.metrics import Metrics
from edgeface.door.controller import DoorController
from edgeface.door.ports import EventSink
from edgeface.door.relay import Relay
from edgeface.liveness.levels import describe as describe_liveness
from edgeface.storage.people import Store
from edgeface.values import JOURNAL, EventType
from edgeface.vision.pipeline import FramePipeline

log = logging.getLogger(__name__)


class PeopleReloads:
    """When the loop re-reads the people store (requests come from any thread and are merged, never lost).

    ``cmd/reload``, which anyone who may publish can send and which changes nothing by itself, at most every
    ``every`` seconds. A change the daemon's own parts made to the store (the fleet intake, an enrolment
    through the control socket or the live page) at the next turn, whatever that limit: a removal held back
    would leave the removed person seconds of grants. Those parts batch their changes themselves.
    """

    def __init__(self, every: float) -> None:
        self.every = every
        self._requested = self._changed = False
        self._last = -math.inf

    def request(self) -> None:
        """A ``cmd/reload``: taken by the next reload, at most every ``every`` seconds."""
        self._requested = True

    def changed(self) -> None:
        """The store changed under the daemon: taken by a reload at the next turn."""
        self._changed = True

    def due(self, now: float) -> bool:
        """Whether to reload now; if so, every request so far is taken (the reload reads the store after this)."""
        if not (self._changed or (self._requested and now - self._last >= self.every)):
            return False
        self._requested = self._changed = False
        self._last = now
        return True


def load_people(store: Store, pipeline: FramePipeline, door: DoorController, device_id: str) -> None:
    """(Re-)read the gallery and the access rules; every track keeps its evidence but is embedded again."""
    recognizer = pipeline.recognizer
    recognizer.gallery = gallery = store.gallery_for(recognizer.embedder)
    door.restrict(store.access_rules(device_id))
    pipeline.forget_identities()
    log.info(
        "people store: %d people, %d templates (%s); match threshold %s",
        len(gallery),
        gallery.template_count,
        store.path,
        recognizer.threshold_info.describe(),
    )


def purge_images(store: Store, cfg: Config) -> int:
    """Delete face crops past ``store.image_retention_days`` (all of them without ``store.keep_images``)."""
    section = cfg.store
    older_than = time.time() - section.image_retention_days * 86_400 if section.keep_images else None
    purged = store.purge_images(older_than)
    if purged and section.keep_images:
        log.info(
            "deleted %d face images older than %g days (store.image_retention_days)",
            purged,
            section.image_retention_days,
        )
    elif purged:
        log.warning("deleted %d face images kept in the store: store.keep_images is false", purged)
    return purged


def start_line(cfg: Config, pipeline: FramePipeline) -> str:
    """The one line the daemon's start leaves in the journal: camera, model, people, threshold, liveness, broker."""
    recognizer, camera, mqtt = pipeline.recognizer, cfg.camera, cfg.mqtt
    where = {"file": str(cfg.camera_path), "opencv": redact_url(camera.device)}.get(camera.source)
    broker = f"broker {mqtt.host}:{mqtt.port}" if mqtt.enabled else "MQTT off (events stay in the outbox)"
    people = len(recognizer.gallery)
    return (
        f"edgeface running as {cfg.device_id} ({__version__}): camera {camera.source}{f' {where}' if where else ''}, "
        f"model {recognizer.embedder.profile.name}, {people} {'person' if people == 1 else 'people'} enrolled, "
        f"threshold {recognizer.threshold:.3f}, liveness {cfg.liveness.summary}, {broker}"
    )


def log_stats(metrics: Metrics, camera: Camera, what: str = "so far", *, journal: bool = False) -> None:
    """One INFO line: what the loop has processed (``journal``: at the default verbosity too, as at the stop)."""
    decisions = sum(metrics.total("decisions", type=kind.value) for kind in EventType)
    log.info(
        "%s: %d frames, %d faces, %d embedded, %d decisions, %d commands; camera reconnects %d",
        what,
        metrics.total("frames"),
        metrics.total("faces"),
        metrics.total("faces_embedded"),
        decisions,
        metrics.total("commands"),
        camera.stats.reconnects,
        extra=JOURNAL if journal else None,
    )


def health(
    cfg: Config, *, pipeline: FramePipeline, metrics: Metrics, events: EventSink, camera: Camera, relay: Relay
) -> dict[str, object]:
    """The figures the live view page shows; read from its server's threads."""
    stats, recognizer = camera.stats, pipeline.recognizer
    return {
        "people_enrolled": len(recognizer.gallery),
        "match_threshold": round(recognizer.threshold, 4),
        "target_far": recognizer.threshold_info.target_far,
        "frames_processed": int(metrics.total("frames")),
        "broker_connected": events.connected,
        "camera_online": stats.online and not stats.ended,
        "door": relay.state.value,
        "liveness": describe_liveness(cfg.liveness) if pipeline.liveness is not None else "off",
    }
