"""The door daemon's frame loop (its parts are built and wired by :mod:`edgeface.app`).

Data flows one way: camera → detect → (track) → align/embed → match →
decide → (event to the publisher, pulse to the relay). The loop runs in the
main thread and owns the relay; MQTT commands arrive on paho's thread and are
handed over through the publisher's queue, signals only set flags.

Fail secure: the relay is driven locked before anything else is opened, and
again on every way out of :meth:`Service.run` (stop, signal, error, stall).

Audit first: every decision and every remote unlock is recorded through one path
(:class:`~edgeface.daemon.events.EventRecorder`: the outbox, fsynced, first) *before* the
relay moves. If it cannot be written (the state directory is full or read-only) the door
does not open and the daemon exits non-zero with one error line, so the service manager
restarts it rather than run a door without an audit trail.

Strangers: unknown decisions pass :class:`~edgeface.door.strangers.StrangerGate` first (one report per
door per ``decide.stranger_cooldown_seconds``, none for a stranger already reported who is still
around); each folded one counts in ``rate_limited_total{what="stranger"}`` and in the next report's
``suppressed``. Remote ``LOCK`` (Home Assistant's *Lock*) ends an unlock at once; it is never limited.

Guards: decisions and remote unlocks are rate-limited (``daemon.decisions_per_minute``,
``mqtt.remote_unlock.per_minute``); a stall guard (:mod:`edgeface.daemon.stallguard`) ends a
daemon whose loop or camera hangs; face crops kept in the store are purged at start
and daily (``store.image_retention_days``).

Reload (SIGHUP) re-reads the config and the people store; :mod:`edgeface.daemon.reload` decides
which changes apply at once and names the rest in one warning; it also announces the door to Home
Assistant again (a Home Assistant whose entities were deleted gets them back without a restart).
``cmd/reload`` re-reads the people store only, at most once per :data:`PEOPLE_RELOAD_EVERY_SECONDS`
(requests in between are merged into the next one, never lost). Neither drops the evidence a face in
front of the camera has gathered: tracks keep their ids (only their cached identities are forgotten,
as a person may have been removed), so a flood of reloads cannot hold off a grant; the decider
starts afresh only when what counts as evidence changed (``decide``, ``match`` or ``quality``).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from edgeface.capture.camera import Camera
from edgeface.config import Config, load_config
from edgeface.daemon.events import EventRecorder
from edgeface.daemon.metrics import Metrics
from edgeface.daemon.reload import plan_reload
from edgeface.daemon.sdnotify import Notifier
from edgeface.daemon.stallguard import EXIT_STALLED, StallGuard
from edgeface.daemon.web import LiveView
from edgeface.door.commands import Command, LockCommand, ReloadCommand, UnlockCommand
from edgeface.door.decide import Decider
from edgeface.door.ratelimit import RateLimit
from edgeface.door.relay import Relay
from edgeface.door.strangers import StrangerGate
from edgeface.errors import EdgefaceError
from edgeface.liveness.levels import describe as describe_liveness
from edgeface.liveness.stage import LivenessStage
from edgeface.mqtt.discovery import DoorDevice, announcements
from edgeface.mqtt.publisher import Publisher
from edgeface.storage.audit import AuditLog
from edgeface.storage.people import Store
from edgeface.values import Decision, DoorState, EventType, Face, Frame, Image, Vectors
from edgeface.vision.pipeline import FramePipeline
from edgeface.vision.recognize import Recognizer
from edgeface.vision.snapshot import face_snapshot

log = logging.getLogger(__name__)

WATCHDOG_FALLBACK_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 1.0
STATS_EVERY_SECONDS = 300.0
"""How often the loop logs what it has processed (one INFO line)."""
PURGE_EVERY_SECONDS = 86_400.0
"""Expired face crops are purged at start and then this often."""
LOCK_ON_STALL_SECONDS = 2.0
"""How long a stall handler waits for the relay before exiting anyway."""
PEOPLE_RELOAD_EVERY_SECONDS = 5.0
"""``cmd/reload`` re-reads the people store at most this often (it costs a read of every template)."""


@dataclass(frozen=True)
class Sighting:
    """The frame and the face a decision was made on: what its snapshot shows."""

    image: Image
    face: Face


class Service:
    """The daemon's parts wired together; :meth:`run` is the frame loop."""

    def __init__(
        self,
        cfg: Config,
        *,
        camera: Camera,
        recognizer: Recognizer,
        store: Store,
        publisher: Publisher,
        relay: Relay,
        recorder: EventRecorder | None = None,
        notifier: Notifier | None = None,
        config_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        liveness: LivenessStage | None = None,
        on_stall: Callable[[str], None] | None = None,
        metrics: Metrics | None = None,
        audit: AuditLog | None = None,
        web: LiveView | None = None,
        web_port: int | None = None,
    ) -> None:
        """``on_stall(reason)`` runs on the stall guard's thread when the loop or camera hangs; the default
        locks the relay and ends the process with status 3 (:data:`~edgeface.daemon.stallguard.EXIT_STALLED`).
        ``recorder`` defaults to one that publishes and counts (no audit log, no live page); ``web_port`` is the
        live page's bound port, for the link Home Assistant shows."""
        self.cfg = cfg
        self.camera = camera
        self.recognizer = recognizer
        self.store = store
        self.publisher = publisher
        self.relay = relay
        self.notifier = notifier or Notifier("")
        self.config_path = config_path
        self.clock = clock
        self.liveness = liveness
        """Run on faces that matched someone; None when ``liveness.enabled`` is false."""
        self.metrics = metrics or Metrics()
        self.recorder = recorder or EventRecorder(cfg.device_id, publisher, self.metrics)
        self.audit = audit
        """Only its retention is the loop's business: events reach it through the recorder."""
        self.web = web
        """The live view page, fed frames; None when ``web.enabled`` is false."""
        self.web_port = web_port
        self._face_present = False
        self._camera_online: bool | None = None
        self.strangers = StrangerGate(
            cfg.decide.stranger_cooldown_seconds, cfg.decide.stranger_memory_seconds, clock=clock
        )
        self.decider = Decider(cfg.decide, clock=clock)
        self.pipeline = FramePipeline(recognizer, liveness=liveness, timer=self.metrics.observe_stage)
        self.on_stall = on_stall or self._exit_stalled
        self.decision_limit = RateLimit("recognition decision", cfg.daemon.decisions_per_minute, clock=clock)
        self.unlock_limit = RateLimit("remote unlock", cfg.mqtt.remote_unlock.per_minute, clock=clock)
        self.guard: StallGuard | None = None
        self._next_purge = 0.0
        self._stop = threading.Event()
        self._reload_config = threading.Event()
        self._people_requested = False
        self._people_reloaded = -math.inf

    # -- control -------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload_config.set()

    def request_people_reload(self) -> None:
        """Re-read the people store soon (from any thread), merged like ``cmd/reload`` requests."""
        self._people_requested = True

    def install_signal_handlers(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.stop()

        def on_hup(_signum: int, _frame: FrameType | None) -> None:
            self.request_reload()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def reload_people(self) -> None:
        gallery = self.store.gallery_for(self.recognizer.embedder)
        self.recognizer.gallery = gallery
        self.decider.restrict(self.store.access_rules(self.cfg.device_id))
        self.pipeline.forget_identities()
        log.info(
            "people store: %d people, %d templates (%s); match threshold %s",
            len(gallery),
            gallery.template_count,
            self.store.path,
            self.recognizer.threshold_info.describe(),
        )

    def _reload(self) -> None:
        """SIGHUP: re-read the config and the people; live changes apply, the rest is named in one warning."""
        self.notifier.reloading()
        try:
            plan = plan_reload(self.cfg, load_config(self.config_path))
            self.reload_people()
        except EdgefaceError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
        else:
            if plan.need_restart:
                log.warning("reload: changes to %s take effect after a restart", ", ".join(plan.need_restart))
            self.apply(plan.config)
            if "match" in {key.split(".")[0] for key in plan.applied}:
                log.info("match threshold now %s", self.recognizer.threshold_info.describe())
            applied = f" (applied: {', '.join(plan.applied)})" if plan.applied else ""
            log.info("reloaded %s%s", self.config_path or "the embedded defaults", applied)
        self.announce()
        self.notifier.ready("reloaded")

    def apply(self, cfg: Config) -> None:
        """Run with ``cfg`` from now on: every part that reads a live section (see edgeface.daemon.reload)."""
        old, self.cfg = self.cfg, cfg
        self.pipeline.apply(cfg)
        if (cfg.decide, cfg.match, cfg.quality) != (old.decide, old.match, old.quality):
            self.decider.reset(cfg.decide)  # evidence judged by other rules than the new ones
        # The strangers already reported stay remembered, as the decider's cooldowns do.
        self.strangers.cooldown = cfg.decide.stranger_cooldown_seconds
        self.strangers.memory = cfg.decide.stranger_memory_seconds
        if old.mqtt.snapshot and not cfg.mqtt.snapshot:
            self.publisher.publish_snapshot(None)  # no face left on the broker once snapshots are off
        if cfg.daemon.decisions_per_minute != old.daemon.decisions_per_minute:
            self.decision_limit = RateLimit("recognition decision", cfg.daemon.decisions_per_minute, clock=self.clock)
        if cfg.mqtt.remote_unlock.per_minute != old.mqtt.remote_unlock.per_minute:
            self.unlock_limit = RateLimit("remote unlock", cfg.mqtt.remote_unlock.per_minute, clock=self.clock)
        if self.audit is not None:
            self.audit.retention = cfg.store.audit_retention_days * 86_400.0

    def announce(self) -> None:
        """(Re-)announce the door to Home Assistant as the running config describes it (``mqtt.discovery``)."""
        if self.cfg.mqtt.discovery:
            self.publisher.announce(announcements(DoorDevice.from_config(self.cfg, web_port=self.web_port)))
        else:
            self.publisher.announce([])

    # -- the loop --------------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Process frames until :meth:`stop`; the relay is locked on every way out."""
        self.relay.lock()
        self.publisher.publish_door(self.relay.state)
        self.purge_images()
        watchdog_every = self.notifier.watchdog_interval() or WATCHDOG_FALLBACK_SECONDS
        last_ping = 0.0
        next_stats = self.clock() + STATS_EVERY_SECONDS
        self.guard = self._start_guard()
        self.notifier.ready(f"watching; {len(self.recognizer.gallery)} people enrolled")
        log.info("edgeface running as %s", self.cfg.device_id)
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
                    self._log_stats()
                for command in self.publisher.commands():
                    self._beat("a remote command")
                    self.handle_command(command)
                if self._people_requested and now - self._people_reloaded >= PEOPLE_RELOAD_EVERY_SECONDS:
                    self._beat("a reload of the people store")
                    self._reload_requested_people(now)
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
            self.relay.lock()
            self._log_stats("stopped after")

    def _log_stats(self, what: str = "so far") -> None:
        m = self.metrics
        decisions = sum(m.total("decisions", type=kind.value) for kind in EventType)
        log.info(
            "%s: %d frames, %d faces, %d embedded, %d decisions, %d commands; camera reconnects %d",
            what,
            m.total("frames"),
            m.total("faces"),
            m.total("faces_embedded"),
            decisions,
            m.total("commands"),
            self.camera.stats.reconnects,
        )

    def _report_camera(self) -> None:
        """Publish the camera's health when it changes (and the first time)."""
        stats = self.camera.stats
        online = stats.online and not stats.ended
        if online != self._camera_online:
            self._camera_online = online
            self.publisher.publish_health(online)

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
        """The default stall handler: lock the door, say why in one line, and end the process for a restart."""
        log.error("stalled: %s; locking the door and exiting (status %d) to be restarted", reason, EXIT_STALLED)
        self.notifier.notify(f"STATUS=stalled: {reason}")
        # The stuck thread may hold the relay's lock: try from a helper thread, and give up after a moment.
        locker = threading.Thread(target=self.relay.lock, name="edgeface-stall-lock", daemon=True)
        locker.start()
        locker.join(LOCK_ON_STALL_SECONDS)
        if locker.is_alive():
            log.error("could not lock the relay within %.0f s; exiting anyway", LOCK_ON_STALL_SECONDS)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_STALLED)

    def purge_images(self) -> int:
        """Delete face crops past ``store.image_retention_days`` (all of them without ``store.keep_images``)."""
        self._next_purge = self.clock() + PURGE_EVERY_SECONDS
        store_cfg = self.cfg.store
        older_than = time.time() - store_cfg.image_retention_days * 86_400 if store_cfg.keep_images else None
        purged = self.store.purge_images(older_than)
        if purged and store_cfg.keep_images:
            log.info(
                "deleted %d face images older than %g days (store.image_retention_days)",
                purged,
                store_cfg.image_retention_days,
            )
        elif purged:
            log.warning("deleted %d face images kept in the store: store.keep_images is false", purged)
        return purged

    def process(self, frame: Frame) -> list[Decision]:
        """One frame through the pipeline and the decider; returns the decisions it produced."""
        started = time.perf_counter()
        metrics = self.metrics
        outcomes = self.pipeline.process(frame)
        metrics.frames.inc()
        metrics.faces.inc(sum(o.track is not None for o in outcomes))
        metrics.embedded.inc(sum(o.vector is not None for o in outcomes))
        present = any(o.track is not None for o in outcomes)
        if present != self._face_present:
            self._face_present = present
            self.publisher.publish_presence(present)
        if self.web is not None:
            self.web.show(frame.image, outcomes)
        evidence = {o.track: o for o in outcomes if o.evidence and o.track is not None}
        decisions = self.decider.observe(frame.ts, [(t, o.match) for t, o in evidence.items() if o.match])
        # A decision is made on a frame in which its track was evidence: its face, match and vector are here.
        self.pipeline.decided(d.track for d in decisions if d.track is not None)
        for decision in decisions:
            seen = evidence.get(decision.track) if decision.track is not None else None
            if decision.type is EventType.UNKNOWN and not self._admit_stranger(seen.vector if seen else None):
                continue
            self.act(decision, Sighting(frame.image, seen.face) if seen is not None else None)
        metrics.stage.labels("frame").observe(time.perf_counter() - started)
        return decisions

    def _admit_stranger(self, vector: Vectors | None) -> bool:
        """Whether an unknown decision is to be reported; a folded one is counted (see the module docstring)."""
        # The match threshold: the similarity from which the door calls two faces one person.
        if self.strangers.admit(vector, self.recognizer.threshold):
            return True
        self.metrics.rate_limited.labels("stranger").inc()
        log.debug("stranger folded into the next report (%d so far)", self.strangers.folded)
        return False

    def act(self, decision: Decision, seen: Sighting | None = None) -> None:
        """Record a decision durably, then, for a grant, open the door (within the rate limit).

        An unknown event carries the count of the stranger decisions folded since the last one; ``seen``
        (the frame and face decided on) becomes the snapshot with ``mqtt.snapshot``.
        """
        if not self.decision_limit.allow():
            self.metrics.rate_limited.labels("decision").inc()
            log.debug("decision dropped by the rate limit: %s %s", decision.type.value, decision.person or "-")
            if decision.type is EventType.UNKNOWN:
                self.strangers.withdraw()
            return
        suppressed = self.strangers.take_folded() if decision.type is EventType.UNKNOWN else None
        # Audit first: if the event cannot be stored this raises, and the door stays shut.
        self.recorder.record(
            decision.type, decision.person, decision.similarity, decision.frames, decision.reason, suppressed=suppressed
        )
        if decision.type is EventType.GRANTED:
            self.relay.pulse(self.cfg.relay.pulse_seconds)
        if self.cfg.mqtt.snapshot and seen is not None:
            # In memory and on the broker only: a face crop is biometric data (store.keep_images is for enrolment).
            self.publisher.publish_snapshot(face_snapshot(seen.image, seen.face))

    def health(self) -> dict[str, object]:
        """The figures the live view page shows; read from its server's threads."""
        camera = self.camera.stats
        return {
            "people_enrolled": len(self.recognizer.gallery),
            "match_threshold": round(self.recognizer.threshold, 4),
            "target_far": self.recognizer.threshold_info.target_far,
            "frames_processed": int(self.metrics.total("frames")),
            "broker_connected": self.publisher.connected,
            "camera_online": camera.online and not camera.ended,
            "door": self.relay.state.value,
            "liveness": describe_liveness(self.cfg.liveness) if self.liveness is not None else "off",
        }

    def handle_command(self, command: Command) -> None:
        self.metrics.commands.inc()
        if isinstance(command, UnlockCommand):
            if not self.unlock_limit.allow():
                self.metrics.rate_limited.labels("remote unlock").inc()
                return
            default = min(self.cfg.relay.pulse_seconds, self.cfg.mqtt.remote_unlock.max_seconds)
            seconds = command.seconds if command.seconds is not None else default
            event = self.recorder.record(EventType.GRANTED, None, 0.0, 0, "remote")
            log.info("remote unlock for %.1f s id=%s", seconds, event.id)
            self.relay.pulse(seconds)
        elif isinstance(command, LockCommand):
            ended = self.relay.state is DoorState.UNLOCKED
            self.relay.lock()
            if not ended:
                # Nothing changed, so the relay published nothing: say "locked" anyway, the sender waits for it.
                self.publisher.publish_door(self.relay.state)
            self.recorder.note_lock(ended=ended)
        elif isinstance(command, ReloadCommand):
            # Done by the loop, at most every PEOPLE_RELOAD_EVERY_SECONDS: a flood merges into one reload.
            self._people_requested = True

    def _reload_requested_people(self, now: float) -> None:
        self._people_requested, self._people_reloaded = False, now
        try:
            self.reload_people()
        except EdgefaceError as exc:
            log.error("reload refused, keeping the people already loaded: %s", exc)
