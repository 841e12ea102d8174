"""The door daemon's frame loop: it only schedules (its parts are built and wired by :mod:`edgeface.app`).

Each turn: the watchdog ping, a pending reload, the periodic jobs (:mod:`edgeface.daemon.jobs`), the
remote commands waiting, then one camera frame → :class:`~edgeface.vision.pipeline.FramePipeline` →
:class:`~edgeface.door.controller.DoorController` and the live view. It runs in the main thread, the only
one that acts on the door; commands wait in the command port's queue, signals only set flags.

Fail secure: the relay is locked before anything else is opened, and on every way out of :meth:`Service.run`;
a stall guard (:mod:`edgeface.daemon.stallguard`) locks it and ends a daemon whose loop or camera hangs.

Reload (SIGHUP) re-reads the config and the people store: each live part takes on the keys it declares
(:mod:`edgeface.daemon.reload`), the rest is named in one warning, and the door is announced again.
``cmd/reload`` re-reads the people store only, at most once per :data:`PEOPLE_RELOAD_EVERY_SECONDS`; a
change the daemon's own parts made to the store (a fleet removal) is read at the next turn
(:class:`~edgeface.daemon.jobs.PeopleReloads`). Neither drops the evidence a face in front of the camera
has gathered: tracks keep their ids (only their cached identities are forgotten, as a person may have
been removed), so a flood of reloads cannot hold off a grant; the decider starts afresh only when what
counts as evidence changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from edgeface.capture.camera import Camera
from edgeface.config import Config
from edgeface.daemon.jobs import PeopleReloads, health, load_people, log_stats, purge_images, start_line
from edgeface.daemon.metrics import Metrics
from edgeface.daemon.recent import RecentFaces
from edgeface.daemon.reload import LivePart, reload_config
from edgeface.daemon.sdnotify import Notifier
from edgeface.daemon.stallguard import StallGuard, lock_and_exit
from edgeface.daemon.web import LiveView
from edgeface.door.controller import DoorController
from edgeface.door.ports import CommandSource, EventSink
from edgeface.errors import EdgefaceError
from edgeface.storage.people import Store
from edgeface.values import JOURNAL, Decision, Frame
from edgeface.vision.pipeline import FramePipeline

log = logging.getLogger(__name__)

WATCHDOG_FALLBACK_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 1.0
STATS_EVERY_SECONDS = 300.0
"""How often the loop logs what it has processed (one INFO line)."""
PURGE_EVERY_SECONDS = 86_400.0
"""Expired face crops are purged at start and then this often (``store.image_retention_days``)."""
PEOPLE_RELOAD_EVERY_SECONDS = 5.0
"""``cmd/reload`` re-reads the people store at most this often (it costs a read of every template)."""


@dataclass(frozen=True)
class Parts:
    """What the loop schedules, built by :func:`edgeface.app.open_service`."""

    camera: Camera
    pipeline: FramePipeline
    door: DoorController
    store: Store
    commands: CommandSource
    events: EventSink
    announce: Callable[[Config], None]
    """(Re-)announce the door to Home Assistant as a config describes it."""
    metrics: Metrics
    web: LiveView | None = None
    """The live view page, fed every frame's outcomes; None when ``web.enabled`` is false."""
    live: Sequence[LivePart] = ()
    """Parts besides the pipeline and the door that take on config keys on reload (the event recorder)."""
    recent: RecentFaces | None = None
    """The faces of unknown visits, kept to enrol from; None when ``faces.recent`` is 0."""


class Service:
    """The daemon's parts scheduled: :meth:`run` is the frame loop."""

    RELOADS: ClassVar[tuple[str, ...]] = ("mqtt.discovery", "store.image_retention_days")
    """Config keys the loop's own jobs read (the announcement, the image purge)."""

    def __init__(
        self,
        cfg: Config,
        parts: Parts,
        *,
        notifier: Notifier | None = None,
        config_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_stall: Callable[[str], None] | None = None,
    ) -> None:
        """``on_stall(reason)`` runs on the stall guard's thread when the loop or camera hangs; the default
        locks the relay and ends the process with status 3 (:data:`~edgeface.daemon.stallguard.EXIT_STALLED`)."""
        self.cfg = cfg
        self.parts = parts
        self.camera, self.pipeline, self.door, self.metrics = parts.camera, parts.pipeline, parts.door, parts.metrics
        self.notifier = notifier or Notifier("")
        self.config_path = config_path
        self.clock = clock
        self.on_stall = on_stall or self._exit_stalled
        self.live: tuple[LivePart, ...] = (self.pipeline, self.door, *parts.live, self)
        self.guard: StallGuard | None = None
        self._camera_online: bool | None = None
        self._next_purge = 0.0
        self._stop = threading.Event()
        self._reload_config = threading.Event()
        self.people = PeopleReloads(PEOPLE_RELOAD_EVERY_SECONDS)
        """Ask for a reload of the people store: ``people.request()`` for cmd/reload, ``people.changed()`` else."""

    def stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload_config.set()

    def reload_people(self) -> None:
        """Re-read the gallery and the access rules; every track keeps its evidence but is embedded again."""
        load_people(self.parts.store, self.pipeline, self.door, self.cfg.device_id)

    def _reload(self) -> None:
        self.notifier.reloading()
        reload_config(self.cfg, self.config_path, self.live, self.reload_people)
        self.parts.announce(self.cfg)
        self.notifier.ready("reloaded")

    def apply(self, cfg: Config) -> None:
        """The loop's own live keys (:attr:`RELOADS`): the jobs read them from the running config."""
        self.cfg = cfg

    def run(self) -> None:
        """Process frames until :meth:`stop`; the relay is locked on every way out."""
        self.door.start()
        self.purge_images()
        watchdog_every = self.notifier.watchdog_interval() or WATCHDOG_FALLBACK_SECONDS
        last_ping = 0.0
        next_stats = self.clock() + STATS_EVERY_SECONDS
        self.guard = self._start_guard()
        people = len(self.pipeline.recognizer.gallery)
        self.notifier.ready(f"watching; {people} {'person' if people == 1 else 'people'} enrolled")
        log.info("%s", start_line(self.cfg, self.pipeline), extra=JOURNAL)
        # Only now: the broker hears from a door that is wired, announced and holding its gallery, and the
        # journal says what started before it says the broker answered.
        self.parts.events.start()
        try:
            while not self._stop.is_set():
                self._beat("the frame loop")
                now = self.clock()
                if now - last_ping >= watchdog_every / 2:
                    # Pinged only from this loop: a hung camera read or model stops the pings.
                    self.notifier.watchdog()
                    last_ping = now
                if self._reload_config.is_set():
                    self._reload_config.clear()
                    self._beat("a config reload")
                    self._reload()
                if now >= self._next_purge:
                    self._beat("the face image purge")
                    self.purge_images()
                if now >= next_stats:
                    next_stats = now + STATS_EVERY_SECONDS
                    log_stats(self.metrics, self.camera)
                for command in self.parts.commands.commands():
                    self._beat("a remote command")
                    self.metrics.commands.inc()
                    self.door.handle(command)
                if self.people.due(now):
                    self._beat("a reload of the people store")
                    self._reload_requested_people()
                self._beat("a camera read")
                frame = self.camera.read(READ_TIMEOUT_SECONDS)
                self._report_camera()
                if frame is not None:
                    self._beat("recognition")
                    self.process(frame)
        finally:
            if self.guard is not None:
                self.guard.stop()
            self.notifier.stopping()
            self.door.relay.lock()
            log_stats(self.metrics, self.camera, "stopped after", journal=True)

    def process(self, frame: Frame) -> list[Decision]:
        """One frame: the pipeline's outcomes to the live view, the recent faces and the door; returns the door's
        decisions."""
        started = time.perf_counter()
        outcomes = self.pipeline.process(frame)
        m = self.metrics
        m.frames.inc()
        m.faces.inc(sum(o.track is not None for o in outcomes))
        m.embedded.inc(sum(o.vector is not None for o in outcomes))
        if self.parts.web is not None:
            self.parts.web.show(frame.image, outcomes)
        if self.parts.recent is not None:
            self.parts.recent.observe(frame.image, outcomes)
        decisions = self.door.observe(frame, outcomes)
        self.pipeline.decided(d.track for d in decisions if d.track is not None)
        m.observe_stage("frame", time.perf_counter() - started)
        return decisions

    def _reload_requested_people(self) -> None:
        try:
            self.reload_people()
        except EdgefaceError as exc:
            log.error("reload refused, keeping the people already loaded: %s", exc)

    def purge_images(self) -> int:
        self._next_purge = self.clock() + PURGE_EVERY_SECONDS
        return purge_images(self.parts.store, self.cfg)

    def health(self) -> dict[str, object]:
        """The figures the live view page shows; read from its server's threads."""
        p = self.parts
        return health(
            self.cfg, pipeline=p.pipeline, metrics=p.metrics, events=p.events, camera=p.camera, relay=p.door.relay
        )

    def _report_camera(self) -> None:
        """Publish the camera's health when it changes (and the first time)."""
        stats = self.camera.stats
        online = stats.online and not stats.ended
        if online != self._camera_online:
            self._camera_online = online
            self.parts.events.publish_health(online)

    def _beat(self, where: str) -> None:
        if self.guard is not None:
            self.guard.beat(where)

    def _start_guard(self) -> StallGuard | None:
        stall = self.cfg.daemon.stall_seconds
        if stall <= 0:
            return None
        camera = self.camera

        def frames() -> tuple[int, bool]:
            stats = camera.stats
            return stats.frames_read, stats.online and not stats.ended

        # A slow file source (fps below 1) may legitimately be silent for a few frame periods.
        camera_stall = max(stall, 3.0 / self.cfg.camera.fps)
        return StallGuard(stall, on_stall=self.on_stall, frames=frames, camera_stall_seconds=camera_stall).start()

    def _exit_stalled(self, reason: str) -> None:
        lock_and_exit(reason, self.door.relay.lock, self.notifier.notify)
