"""The door daemon: the one composition root and the frame loop.

Data flows one way: camera → detect → (track) → align/embed → match →
decide → (event to the publisher, pulse to the relay). The loop runs in the
main thread and owns the relay; MQTT commands arrive on paho's thread and are
handed over through the publisher's queue, signals only set flags.

Fail secure: the relay is driven locked before anything else is opened, and
again on every way out of :meth:`Service.run` (stop, signal, error, stall).

Audit first: every decision and every remote unlock is written to the outbox
(fsynced) *before* the relay moves. If it cannot be written (the state
directory is full or read-only) the door does not open and the daemon exits
non-zero with one error line, so the service manager restarts it rather than
run a door without an audit trail.

Guards: decisions and remote unlocks are rate-limited (``daemon.decisions_per_minute``,
``mqtt.remote_unlock.per_minute``); a stall guard (:mod:`edgeface.daemon.stallguard`) ends a
daemon whose loop or camera hangs; face crops kept in the store are purged at start
and daily (``store.image_retention_days``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from gpiozero.pins import Factory

from edgeface.capture.camera import Camera, open_camera
from edgeface.config import Config, load_config
from edgeface.daemon.metrics import Metrics
from edgeface.daemon.preflight import check_model_files
from edgeface.daemon.sdnotify import Notifier
from edgeface.daemon.stallguard import EXIT_STALLED, StallGuard
from edgeface.daemon.web import LiveView
from edgeface.door.decide import Decider, Observation
from edgeface.door.ratelimit import RateLimit
from edgeface.door.relay import DoorRelay, Relay, make_pin_factory
from edgeface.errors import EdgefaceError
from edgeface.liveness.minifasnet import LivenessStage
from edgeface.mqtt.client import MqttPublisher
from edgeface.mqtt.commands import Command, ReloadCommand, UnlockCommand
from edgeface.mqtt.publisher import Publisher
from edgeface.storage.audit import AuditLog
from edgeface.storage.outbox import Outbox
from edgeface.storage.people import Store
from edgeface.values import Decision, DoorState, Event, EventType, Face, Frame, Match
from edgeface.vision.quality import passes
from edgeface.vision.recognize import Recognizer, open_detector
from edgeface.vision.track import Tracker

log = logging.getLogger(__name__)

WATCHDOG_FALLBACK_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 1.0
REEMBED_SECONDS = 1.0
"""A track identified and decided on is re-embedded at most this often."""
STATS_EVERY_SECONDS = 300.0
"""How often the loop logs what it has processed (one INFO line)."""
PURGE_EVERY_SECONDS = 86_400.0
"""Expired face crops are purged at start and then this often."""
LOCK_ON_STALL_SECONDS = 2.0
"""How long a stall handler waits for the relay before exiting anyway."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LoopStats:
    frames: int = 0
    faces: int = 0
    embedded: int = 0
    decisions: int = 0
    commands: int = 0
    """Remote commands taken from the publisher and handled (acted on or refused)."""


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
        notifier: Notifier | None = None,
        config_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        liveness: LivenessStage | None = None,
        on_stall: Callable[[str], None] | None = None,
        metrics: Metrics | None = None,
        audit: AuditLog | None = None,
        web: LiveView | None = None,
    ) -> None:
        """``on_stall(reason)`` runs on the stall guard's thread when the loop or camera hangs; the default
        locks the relay and ends the process with status 3 (:data:`~edgeface.daemon.stallguard.EXIT_STALLED`)."""
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
        self.audit = audit
        self.web = web
        """The live view page, fed frames and events; None when ``web.enabled`` is false."""
        if web is not None:
            web.health = self.health
        self._face_present = False
        self.decider = Decider(cfg.decide, clock=clock)
        self.tracker = Tracker()
        self.stats = LoopStats()
        self.on_stall = on_stall or self._exit_stalled
        self.decision_limit = RateLimit("recognition decision", cfg.daemon.decisions_per_minute, clock=clock)
        self.unlock_limit = RateLimit("remote unlock", cfg.mqtt.remote_unlock.per_minute, clock=clock)
        self.guard: StallGuard | None = None
        self._next_purge = 0.0
        self._stop = threading.Event()
        self._reload_config = threading.Event()
        self.relay.on_change(self.publisher.publish_door)
        self.reload_people()

    # -- control -------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload_config.set()

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
        gallery = self.store.gallery(self.recognizer.model_id, self.recognizer.embedder.profile.output_dim)
        self.recognizer.gallery = gallery
        self.tracker.reset()
        if self.liveness is not None:
            self.liveness.reset()  # its landmark history is keyed by the tracks just dropped
        log.info("people store: %d people enrolled (%s)", len(gallery), self.store.path)

    def _reload(self) -> None:
        """SIGHUP: new thresholds, schedules and people; the camera, models and broker connection stay."""
        self.notifier.reloading()
        try:
            cfg = load_config(self.config_path)
        except EdgefaceError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
        else:
            fixed = ("camera", "detector", "embedder", "liveness", "mqtt", "relay", "runtime")
            kept = [s for s in fixed if getattr(cfg, s) != getattr(self.cfg, s)]
            if cfg.daemon.stall_seconds != self.cfg.daemon.stall_seconds:
                kept.append("daemon.stall_seconds")
            if cfg.store.path != self.cfg.store.path:
                kept.append("store.path")
            if kept:
                log.warning("reload: changes to %s take effect after a restart", ", ".join(kept))
            try:
                self.reload_people()
            except EdgefaceError as exc:
                log.error("reload refused, keeping the running config: %s", exc)
            else:
                if cfg.daemon.decisions_per_minute != self.cfg.daemon.decisions_per_minute:
                    self.decision_limit = RateLimit(
                        "recognition decision", cfg.daemon.decisions_per_minute, clock=self.clock
                    )
                self.cfg = cfg
                self.recognizer.threshold = cfg.threshold
                self.recognizer.margin = cfg.match.margin
                self.decider.reset(cfg.decide)
                log.info("reloaded %s", self.config_path or "the embedded defaults")
        self.notifier.ready("reloaded")

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
                self._beat("a camera read")
                frame = self.camera.read(READ_TIMEOUT_SECONDS)
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
        s, camera = self.stats, self.camera.stats
        log.info(
            "%s: %d frames, %d faces, %d embedded, %d decisions, %d commands; camera reconnects %d",
            what,
            s.frames,
            s.faces,
            s.embedded,
            s.decisions,
            s.commands,
            camera.reconnects,
        )

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
        """One frame through the pipeline; returns the decisions it produced."""
        started = time.perf_counter()
        self.stats.frames += 1
        rec, metrics = self.recognizer, self.metrics
        with metrics.timed("detect"):
            faces = rec.detect(frame.image)
        self.stats.faces += len(faces)
        metrics.frames.inc()
        metrics.faces.inc(len(faces))
        if bool(faces) != self._face_present:
            self._face_present = bool(faces)
            self.publisher.publish_presence(self._face_present)
        tracks = self.tracker.update(faces, frame.ts)
        known, gates = self.tracker.known, rec.gates
        fresh = [
            (t, f)
            for t, f in zip(tracks, faces, strict=True)
            if known(t, frame.ts, REEMBED_SECONDS) is None and passes(frame.image, f, gates)
        ]
        matches: list[Match] = []
        if fresh:
            with metrics.timed("embed"):
                vectors = rec.embed(frame.image, [f for _, f in fresh])
            with metrics.timed("match"):
                matches = rec.match(vectors)
        self.stats.embedded += len(fresh)
        metrics.embedded.inc(len(fresh))
        # Only fresh matches are evidence: a cached identity counted again would make N-of-M meaningless.
        observations: list[Observation] = [(t, m) for (t, _), m in zip(fresh, matches, strict=True)]
        if self.liveness is not None:
            observations = self._check_liveness(self.liveness, frame, fresh, matches)
        if self.web is not None and self.web.watching:
            fresh_matches = {t: m for (t, _), m in zip(fresh, matches, strict=True)}
            shown = [
                (f, fresh_matches.get(t) or known(t, frame.ts, REEMBED_SECONDS))
                for t, f in zip(tracks, faces, strict=True)
            ]
            self.web.show(frame.image, [(f, m) for f, m in shown if m is not None])
        decisions = self.decider.observe(frame.ts, observations)
        for decision in decisions:
            if decision.track is not None:
                decided = next((m for (t, _), m in zip(fresh, matches, strict=True) if t == decision.track), None)
                if decided is not None and decided.person is not None:
                    self.tracker.remember(decision.track, decided, frame.ts)
            self.act(decision)
        metrics.stage.labels("frame").observe(time.perf_counter() - started)
        return decisions

    def _check_liveness(
        self, stage: LivenessStage, frame: Frame, fresh: Sequence[tuple[int, Face]], matches: Sequence[Match]
    ) -> list[Observation]:
        """Mark each match of an enrolled person live or spoof; one still pending is left out (a miss).

        Only matched faces are checked: a stranger is refused anyway, so nobody known at the door costs nothing.
        """
        known = [i for i, m in enumerate(matches) if m.person is not None]
        results = stage.check(frame.image, frame.ts, [fresh[i] for i in known])
        verdicts = {i: r.live for i, r in zip(known, results, strict=True)}
        observations: list[Observation] = []
        for i, ((track, _), match) in enumerate(zip(fresh, matches, strict=True)):
            if i not in verdicts:
                observations.append((track, match))
            elif (live := verdicts[i]) is not None:
                observations.append((track, replace(match, live=live)))
        return observations

    def act(self, decision: Decision) -> None:
        """Record a decision durably, then, for a grant, open the door (within the rate limit)."""
        if not self.decision_limit.allow():
            log.debug("decision dropped by the rate limit: %s %s", decision.type.value, decision.person or "-")
            return
        self.stats.decisions += 1
        event = self._event(decision.type, decision.person, decision.similarity, decision.frames, decision.reason)
        # Audit first: if the event cannot be stored this raises, and the door stays shut.
        self.publisher.publish_event(event)
        self.metrics.decisions.labels(decision.type.value).inc()
        if self.audit is not None:
            self.audit.record(event)
        if self.web is not None:
            self.web.add_event(event)
        log.info(
            "decision type=%s person=%s similarity=%.3f frames=%d reason=%s id=%s",
            decision.type.value,
            decision.person or "-",
            decision.similarity,
            decision.frames,
            decision.reason or "-",
            event.id,
        )
        if decision.type is EventType.GRANTED:
            self.relay.pulse(self.cfg.relay.pulse_seconds)

    def health(self) -> dict[str, object]:
        """The figures the live view page shows; read from its server's threads."""
        camera = self.camera.stats
        return {
            "people_enrolled": len(self.recognizer.gallery),
            "frames_processed": self.stats.frames,
            "broker_connected": self.publisher.connected,
            "camera_online": camera.online and not camera.ended,
            "door": self.relay.state.value,
        }

    def _event(self, kind: EventType, person: str | None, similarity: float, frames: int, reason: str | None) -> Event:
        return Event(
            id=str(uuid.uuid4()),
            ts=utc_now(),
            device=self.cfg.device_id,
            type=kind,
            person=person,
            similarity=similarity,
            frames=frames,
            reason=reason,
        )

    def handle_command(self, command: Command) -> None:
        self.stats.commands += 1
        if isinstance(command, UnlockCommand):
            if not self.unlock_limit.allow():
                return
            default = min(self.cfg.relay.pulse_seconds, self.cfg.mqtt.remote_unlock.max_seconds)
            seconds = command.seconds if command.seconds is not None else default
            event = self._event(EventType.GRANTED, None, 0.0, 0, "remote")
            self.publisher.publish_event(event)
            if self.audit is not None:
                self.audit.record(event)
            if self.web is not None:
                self.web.add_event(event)
            log.info("remote unlock for %.1f s id=%s", seconds, event.id)
            self.relay.pulse(seconds)
        elif isinstance(command, ReloadCommand):
            try:
                self.reload_people()
            except EdgefaceError as exc:
                log.error("reload refused, keeping the people already loaded: %s", exc)


def open_service(
    cfg: Config,
    stack: ExitStack,
    *,
    config_path: Path | None = None,
    pin_factory: Factory | None = None,
    notifier: Notifier | None = None,
    wrap_camera: Callable[[Camera], Camera] | None = None,
    on_stall: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Service:
    """Build every part from the config, registering each on ``stack`` to be closed; the composition root.

    The order is the fail-secure one: the relay is driven locked first (its log line is the daemon's
    first), then the model files are checked, then the store, the outbox, the broker connection, the
    models and the camera are opened. Whatever fails raises an EdgefaceError with one line to print.
    ``pin_factory`` and ``wrap_camera`` let tests hold the mock pins and wrap the camera.
    """
    # The relay first: whatever fails after this, the door is held locked.
    if pin_factory is None:
        pin_factory = make_pin_factory(cfg.relay.pin_factory)
        stack.callback(pin_factory.close)
    relay = stack.enter_context(DoorRelay.from_config(cfg.relay, pin_factory))
    relay.lock()
    log.info("door relay on GPIO%d driven locked before anything else", cfg.relay.pin)
    check_model_files(cfg)
    store = stack.enter_context(Store(cfg.store_path, keep_images=cfg.store.keep_images))
    log.info("people store %s opened (%s)", cfg.store_path, store.integrity_check())
    outbox = stack.enter_context(Outbox(cfg.state_dir / "outbox.db", cfg.mqtt.outbox_max))
    log.info("outbox %s opened: %d events waiting", outbox.path, len(outbox))
    publisher = stack.enter_context(MqttPublisher.from_config(cfg.mqtt, cfg.device_id, cfg.topic_prefix, outbox))
    recognizer = stack.enter_context(Recognizer.from_config(cfg, live=True))
    liveness = None
    if cfg.liveness.enabled:
        motion = cfg.liveness.motion()
        # The temporal check measures landmarks with a detector of its own (it sees small canonical crops).
        detector = open_detector(cfg) if motion is not None else None
        stage = LivenessStage.open(
            cfg.liveness_specs(), cfg.runtime.options(), cfg.liveness.threshold, motion, detector
        )
        liveness = stack.enter_context(stage)
        log.info("liveness on: threshold %.2f, temporal check %s", cfg.liveness.threshold, motion is not None)
    camera = stack.enter_context(open_camera(cfg.camera, cfg.camera_path))
    audit = stack.enter_context(AuditLog(cfg.store_path, cfg.store.audit_retention_days))
    metrics = Metrics()
    metrics.watch(
        outbox=lambda: len(outbox),
        broker=lambda: float(publisher.connected),
        relay=lambda: float(relay.state is DoorState.UNLOCKED),
        reconnects=lambda: camera.stats.reconnects,
    )
    if cfg.metrics.port is not None:
        metrics.serve(cfg.metrics.address, cfg.metrics.port)
        stack.callback(metrics.close)
    web = None
    if cfg.web.enabled:
        web = LiveView(cfg.web.fps)
        web.serve(cfg.web.address, cfg.web.port)
        stack.callback(web.close)
    return Service(
        cfg,
        camera=wrap_camera(camera) if wrap_camera else camera,
        recognizer=recognizer,
        store=store,
        publisher=publisher,
        relay=relay,
        notifier=notifier,
        config_path=config_path,
        liveness=liveness,
        metrics=metrics,
        audit=audit,
        web=web,
        on_stall=on_stall,
        clock=clock,
    )


def run_daemon(cfg: Config, config_path: Path | None) -> int:
    """``edgeface run``: build every part from the config, run until stopped, release everything."""
    os.umask(0o077)  # whatever else gets created (SQLite's side files included) is private too
    notifier = Notifier()
    with ExitStack() as stack:
        service = open_service(cfg, stack, config_path=config_path, notifier=notifier)
        service.install_signal_handlers()
        service.run()
    notifier.close()
    return 0
