"""The door daemon: the one composition root and the frame loop.

Data flows one way: camera → detect → (track) → align/embed → match →
decide → (event to the publisher, pulse to the relay). The loop runs in the
main thread and owns the relay; MQTT commands arrive on paho's thread and are
handed over through the publisher's queue, signals only set flags.

Fail secure: the relay is driven locked before anything else is opened, and
again on every way out of :meth:`Service.run` (stop, signal, error).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from edgeface.capture import Camera, open_camera
from edgeface.config import Config, load_config
from edgeface.decide import Decider
from edgeface.errors import EdgefaceError
from edgeface.outbox import Outbox
from edgeface.publish import Command, MqttPublisher, Publisher, ReloadCommand, UnlockCommand
from edgeface.quality import passes
from edgeface.recognize import Recognizer
from edgeface.relay import DoorRelay, Relay, make_pin_factory
from edgeface.sdnotify import Notifier
from edgeface.store import Store
from edgeface.track import Tracker
from edgeface.values import Decision, Event, EventType, Frame, Match

log = logging.getLogger(__name__)

WATCHDOG_FALLBACK_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 1.0
REEMBED_SECONDS = 1.0
"""A track identified and decided on is re-embedded at most this often."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LoopStats:
    frames: int = 0
    faces: int = 0
    embedded: int = 0
    decisions: int = 0


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
    ) -> None:
        self.cfg = cfg
        self.camera = camera
        self.recognizer = recognizer
        self.store = store
        self.publisher = publisher
        self.relay = relay
        self.notifier = notifier or Notifier("")
        self.config_path = config_path
        self.clock = clock
        self.decider = Decider(cfg.decide, clock=clock)
        self.tracker = Tracker()
        self.stats = LoopStats()
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
        log.info("people store: %d people enrolled (%s)", len(gallery), self.store.path)

    def _reload(self) -> None:
        """SIGHUP: new thresholds, schedules and people; the camera, models and broker connection stay."""
        self.notifier.reloading()
        try:
            cfg = load_config(self.config_path)
        except EdgefaceError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
        else:
            fixed = ("camera", "detector", "embedder", "mqtt", "relay", "runtime")
            kept = [s for s in fixed if getattr(cfg, s) != getattr(self.cfg, s)]
            if kept:
                log.warning("reload: changes to %s take effect after a restart", ", ".join(kept))
            try:
                self.reload_people()
            except EdgefaceError as exc:
                log.error("reload refused, keeping the running config: %s", exc)
            else:
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
        watchdog_every = self.notifier.watchdog_interval() or WATCHDOG_FALLBACK_SECONDS
        last_ping = 0.0
        self.notifier.ready(f"watching; {len(self.recognizer.gallery)} people enrolled")
        log.info("edgeface running as %s", self.cfg.device_id)
        try:
            while not self._stop.is_set():
                now = self.clock()
                if now - last_ping >= watchdog_every / 2:
                    # Pinged only from this loop: a hung camera read or model stops the pings.
                    self.notifier.watchdog()
                    last_ping = now
                if self._reload_config.is_set():
                    self._reload_config.clear()
                    self._reload()
                for command in self.publisher.commands():
                    self.handle_command(command)
                frame = self.camera.read(READ_TIMEOUT_SECONDS)
                if frame is not None:
                    self.process(frame)
        finally:
            self.notifier.stopping()
            self.relay.lock()

    def process(self, frame: Frame) -> list[Decision]:
        """One frame through the pipeline; returns the decisions it produced."""
        self.stats.frames += 1
        rec = self.recognizer
        faces = rec.detect(frame.image)
        self.stats.faces += len(faces)
        tracks = self.tracker.update(faces, frame.ts)
        known, gates = self.tracker.known, rec.gates
        fresh = [
            (t, f)
            for t, f in zip(tracks, faces, strict=True)
            if known(t, frame.ts, REEMBED_SECONDS) is None and passes(frame.image, f, gates)
        ]
        matches: list[Match] = rec.match(rec.embed(frame.image, [f for _, f in fresh])) if fresh else []
        self.stats.embedded += len(fresh)
        # Only fresh matches are evidence: a cached identity counted again would make N-of-M meaningless.
        decisions = self.decider.observe(frame.ts, [(t, m) for (t, _), m in zip(fresh, matches, strict=True)])
        for decision in decisions:
            if decision.track is not None:
                decided = next((m for (t, _), m in zip(fresh, matches, strict=True) if t == decision.track), None)
                if decided is not None and decided.person is not None:
                    self.tracker.remember(decision.track, decided, frame.ts)
            self.act(decision)
        return decisions

    def act(self, decision: Decision) -> None:
        """Publish a decision and, for a grant, open the door."""
        self.stats.decisions += 1
        log.info(
            "decision type=%s person=%s similarity=%.3f frames=%d reason=%s",
            decision.type.value,
            decision.person or "-",
            decision.similarity,
            decision.frames,
            decision.reason or "-",
        )
        if decision.type is EventType.GRANTED:
            self.relay.pulse(self.cfg.relay.pulse_seconds)
        self.publisher.publish_event(
            Event(
                id=str(uuid.uuid4()),
                ts=utc_now(),
                device=self.cfg.device_id,
                type=decision.type,
                person=decision.person,
                similarity=decision.similarity,
                frames=decision.frames,
                reason=decision.reason,
            )
        )

    def handle_command(self, command: Command) -> None:
        if isinstance(command, UnlockCommand):
            default = min(self.cfg.relay.pulse_seconds, self.cfg.mqtt.remote_unlock.max_seconds)
            seconds = command.seconds if command.seconds is not None else default
            log.info("remote unlock for %.1f s", seconds)
            self.relay.pulse(seconds)
        elif isinstance(command, ReloadCommand):
            try:
                self.reload_people()
            except EdgefaceError as exc:
                log.error("reload refused, keeping the people already loaded: %s", exc)


def run_daemon(cfg: Config, config_path: Path | None) -> int:
    """``edgeface run``: build every part from the config, run until stopped, release everything."""
    notifier = Notifier()
    with ExitStack() as stack:
        # The relay first: whatever fails after this, the door is held locked.
        factory = make_pin_factory(cfg.relay.pin_factory)
        stack.callback(factory.close)
        relay = stack.enter_context(DoorRelay.from_config(cfg.relay, factory))
        store = stack.enter_context(Store(cfg.store_path, keep_images=cfg.store.keep_images))
        outbox = stack.enter_context(Outbox(cfg.state_dir / "outbox.db", cfg.mqtt.outbox_max))
        publisher = stack.enter_context(MqttPublisher.from_config(cfg.mqtt, cfg.device_id, cfg.topic_prefix, outbox))
        recognizer = stack.enter_context(Recognizer.from_config(cfg))
        camera = stack.enter_context(open_camera(cfg.camera, cfg.camera_path))
        service = Service(
            cfg,
            camera=camera,
            recognizer=recognizer,
            store=store,
            publisher=publisher,
            relay=relay,
            notifier=notifier,
            config_path=config_path,
        )
        service.install_signal_handlers()
        service.run()
    notifier.close()
    return 0
