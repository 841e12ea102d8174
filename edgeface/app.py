"""The composition root: every part of the daemon built from the config, in the fail-secure order.

This is the only module that imports the subsystems together. ``edgeface run`` goes through
:func:`run_daemon`; tests build the same daemon with :func:`open_service` and hold its mock pins.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from gpiozero.pins import Factory

from edgeface.capture.camera import Camera, open_camera
from edgeface.config import Config
from edgeface.daemon.control import control_path, serve_control
from edgeface.daemon.events import EventRecorder
from edgeface.daemon.loop import Parts, Service
from edgeface.daemon.metrics import Metrics
from edgeface.daemon.preflight import check_model_files
from edgeface.daemon.recent import RecentFaces
from edgeface.daemon.recentdisk import recent_file
from edgeface.daemon.recentweb import RecentPage
from edgeface.daemon.sdnotify import Notifier
from edgeface.daemon.web import LiveView
from edgeface.door.controller import DoorController
from edgeface.door.relay import DoorRelay, Relay, make_pin_factory
from edgeface.liveness.levels import describe
from edgeface.liveness.stage import LivenessStage
from edgeface.mqtt.client import MqttPublisher
from edgeface.mqtt.discovery import DoorDevice, announcements
from edgeface.mqtt.fleetsync import FleetSync
from edgeface.mqtt.publisher import Publisher
from edgeface.ops.demo import demo_store_warning
from edgeface.storage.audit import AuditLog
from edgeface.storage.nonces import NonceFile
from edgeface.storage.outbox import Outbox
from edgeface.storage.people import Store
from edgeface.values import JOURNAL, DoorState
from edgeface.vision.pipeline import FramePipeline
from edgeface.vision.recognize import Recognizer
from edgeface.vision.snapshot import face_snapshot

log = logging.getLogger(__name__)


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
    first), then the model files are checked, then the store, the outbox, the nonce log, the broker
    client, the models and the camera are opened. Nothing is sent to the broker yet: the frame loop starts
    the connection once it runs (:meth:`Service.run`). Whatever fails raises an EdgefaceError with one
    line to print.
    ``pin_factory`` and ``wrap_camera`` let tests hold the mock pins and wrap the camera.
    """
    # The relay first: whatever fails after this, the door is held locked.
    if pin_factory is None:
        pin_factory = make_pin_factory(cfg.relay.pin_factory, cfg.relay.chip)
        stack.callback(pin_factory.close)
    relay = stack.enter_context(DoorRelay.from_config(cfg.relay, pin_factory))
    relay.lock()
    log.info("door relay on %s driven locked before anything else", cfg.relay.where)
    check_model_files(cfg)
    store = stack.enter_context(Store(cfg.store_path, keep_images=cfg.store.keep_images))
    log.info("people store %s opened (%s)", cfg.store_path, store.integrity_check())
    if (demo_only := demo_store_warning(cfg, (p.name for p in store.people()))) is not None:
        log.warning("%s", demo_only)
    outbox = stack.enter_context(Outbox(cfg.state_dir / "outbox.db", cfg.mqtt.outbox_max))
    log.info("outbox %s opened: %d events waiting", outbox.path, len(outbox))
    nonces = stack.enter_context(NonceFile(cfg.state_dir / "nonces.db"))
    # The relay's real state goes to the broker first on connect: a crash during a pulse left "unlocked" there.
    publisher = stack.enter_context(
        MqttPublisher.from_config(cfg.mqtt, cfg.device_id, cfg.topic_prefix, outbox, door=relay.state, nonces=nonces)
    )
    recognizer = stack.enter_context(Recognizer.from_config(cfg, live=True))
    liveness = None
    if cfg.liveness.enabled:
        liveness = stack.enter_context(LivenessStage.from_config(cfg))
        log.info("liveness on: %s, temporal check %s", describe(cfg.liveness), liveness.history is not None)
    else:
        log.warning("liveness off (liveness.enabled: false): a photo or a screen showing a member opens the door")
    # A camera that cannot be opened is waited for as an outage (the door stays locked), not a reason to end:
    # an IP camera slower to boot than the door after a power cut must not leave it dead.
    camera = stack.enter_context(open_camera(cfg.camera, cfg.camera_path, wait=True))
    audit = stack.enter_context(AuditLog(cfg.store_path, cfg.store.audit_retention_days))
    metrics = Metrics(model=recognizer.embedder.profile.name)
    metrics.watch(
        outbox=lambda: len(outbox),
        broker=lambda: float(publisher.connected),
        relay=lambda: float(relay.state is DoorState.UNLOCKED),
        reconnects=lambda: camera.stats.reconnects,
        threshold=lambda: recognizer.threshold,
        target_far=lambda: recognizer.threshold_info.target_far or 0.0,
    )
    if cfg.metrics.port is not None:
        metrics.serve(cfg.metrics.address, cfg.metrics.port)
        stack.callback(metrics.close)
    web, web_port = None, None
    if cfg.web.enabled:
        web = LiveView(cfg.web.fps)
        web_port = web.serve(cfg.web.address, cfg.web.port, cfg.web.hosts)
        stack.callback(web.close)
    live = None if liveness is None else liveness.passes
    recent = RecentFaces.from_config(cfg.faces, recognizer.embedder.profile, recent_file(cfg), live)
    if recent is not None:
        stack.callback(recent.close)
    service = wire_service(
        cfg,
        camera=wrap_camera(camera) if wrap_camera else camera,
        recognizer=recognizer,
        store=store,
        publisher=publisher,
        relay=relay,
        liveness=liveness,
        metrics=metrics,
        audit=audit,
        web=web,
        web_port=web_port,
        notifier=notifier,
        config_path=config_path,
        on_stall=on_stall,
        clock=clock,
        recent=recent,
    )
    relay.on_change(publisher.publish_door)
    if recent is not None and (
        server := serve_control(control_path(cfg), recent, recognizer.model_id, service.people.changed)
    ):
        stack.enter_context(server)
    if recent is not None and web is not None:
        store_at = (cfg.store_path, cfg.store.keep_images, cfg.store.audit_retention_days)
        token = cfg.web.access_token()
        web.recent = RecentPage(recent, token, recognizer, store_at, service.people.changed)
    if cfg.fleet.enabled:
        # The fleet writes through its own store connection; the loop reloads the gallery on its own thread
        # (not through the MQTT command inbox, whose reloads must be signed when a secret is set).
        stack.enter_context(FleetSync.from_config(cfg, recognizer.embedder.model_id, service.people.changed))
    return service


def wire_service(
    cfg: Config,
    *,
    camera: Camera,
    recognizer: Recognizer,
    store: Store,
    publisher: Publisher,
    relay: Relay,
    liveness: LivenessStage | None = None,
    metrics: Metrics | None = None,
    audit: AuditLog | None = None,
    web: LiveView | None = None,
    web_port: int | None = None,
    notifier: Notifier | None = None,
    config_path: Path | None = None,
    on_stall: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    recent: RecentFaces | None = None,
) -> Service:
    """Wire opened parts into the daemon: frame pipeline → door controller (→ event recorder → publisher, audit,
    live page; → relay), the loop scheduling them; announced and holding the store's people when it returns.

    ``web_port`` is the live page's bound port, for the link Home Assistant shows. Tests wire a daemon of
    in-memory parts with it too, so that they run the same wiring as ``edgeface run``.
    """
    metrics = metrics or Metrics()
    recorder = EventRecorder(cfg.device_id, publisher, metrics, audit=audit, web=web)
    pipeline = FramePipeline(
        recognizer, liveness=liveness, timer=metrics.observe_stage, track_seconds=cfg.decide.track_seconds
    )
    door = DoorController(
        cfg,
        relay=relay,
        recorder=recorder,
        events=publisher,
        threshold=lambda: recognizer.threshold,
        snapshot=face_snapshot,
        on_limited=lambda what: metrics.rate_limited.labels(what).inc(),
        clock=clock,
    )

    def announce(running: Config) -> None:
        device = DoorDevice.from_config(running, web_port=web_port)
        publisher.announce(announcements(device) if running.mqtt.discovery else [])

    parts = Parts(
        camera=camera,
        pipeline=pipeline,
        door=door,
        store=store,
        commands=publisher,
        events=publisher,
        announce=announce,
        metrics=metrics,
        web=web,
        live=(recorder,),
        recent=recent,
    )
    service = Service(cfg, parts, notifier=notifier, config_path=config_path, on_stall=on_stall, clock=clock)
    # Wiring between parts lives here, not in their constructors.
    door.on_reload = service.people.request
    if web is not None:
        web.health = service.health
    announce(cfg)  # now that the live page's port is known (discovery links to it)
    service.reload_people()
    return service


EXIT_INTERRUPTED = 128 + signal.SIGINT
"""``edgeface run`` stopped with Ctrl-C ends with the status a shell expects of an interrupted command."""


def install_signal_handlers(service: Service, on_stop: Callable[[signal.Signals], None] = lambda _: None) -> None:
    """SIGTERM and SIGINT stop the loop (``on_stop`` is told which), SIGHUP reloads; the handlers only set flags."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        received = signal.Signals(signum)
        log.info("received %s: stopping", received.name, extra=JOURNAL)
        on_stop(received)
        service.stop()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        service.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, on_hup)


def run_daemon(cfg: Config, config_path: Path | None) -> int:
    """``edgeface run``: build every part from the config, run until stopped, release everything.

    0 once stopped by SIGTERM (systemd), :data:`EXIT_INTERRUPTED` by Ctrl-C."""
    os.umask(0o077)  # whatever else gets created (SQLite's side files included) is private too
    notifier = Notifier()
    received: list[signal.Signals] = []
    with ExitStack() as stack:
        service = open_service(cfg, stack, config_path=config_path, notifier=notifier)
        install_signal_handlers(service, received.append)
        service.run()
    notifier.close()
    return EXIT_INTERRUPTED if signal.SIGINT in received else 0
