"""The daemon inside the test process: on a thread with its frame loop, or built by hand with none.

:func:`running_door` is the daemon's own composition (:func:`edgeface.app.open_service`) on a
MockFactory the test reads, its loop on a thread; :func:`service_bench` is a Service whose frames
or commands the test hands it one call at a time. Configs come from
:func:`tests.support.configs.service_config`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

from edgeface.app import open_service, wire_service
from edgeface.capture.camera import Camera
from edgeface.capture.memory import MemoryCamera
from edgeface.config import Config
from edgeface.daemon.loop import Service
from edgeface.daemon.sdnotify import Notifier
from edgeface.door.relay import DoorRelay
from edgeface.liveness.stage import LivenessStage
from edgeface.mqtt.client import MqttPublisher
from edgeface.mqtt.publisher import MemoryPublisher
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.people import Store
from edgeface.vision.recognize import Recognizer
from tests.support.broker import Broker, Collector
from tests.support.timing import scaled, wait_until

Enrolment = Iterable[tuple[str, Path]]
"""(person, photo) pairs to enrol before the daemon starts, as :func:`edgeface.ops.enroll.photos_in` gives."""


class Door:
    """A daemon running on a thread of the test process: its service, its relay's pin, its topics and, when
    it was started with ``watch=broker``, everything it published there."""

    def __init__(
        self,
        service: Service,
        pin: MockPin,
        cfg: Config,
        collector: Collector | None = None,
        loop: threading.Thread | None = None,
    ) -> None:
        self.service, self.pin, self.cfg = service, pin, cfg
        self._collector = collector
        self._loop = loop

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the frame loop and wait for it to end: nothing decides after this (the broker link stays up)."""
        self.service.stop()
        if self._loop is not None:
            self._loop.join(scaled(timeout))
            assert not self._loop.is_alive(), "the frame loop did not stop"

    @property
    def collector(self) -> Collector:
        """A subscriber to all of the door's topics since before it started; it sends as well."""
        assert self._collector is not None, "start the door with running_door(..., watch=broker)"
        return self._collector

    def topic(self, name: str) -> str:
        return f"{self.cfg.topic_prefix}/{name}"

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.collector.messages(self.topic("event"))]

    def wait_event(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        """The first event of type ``kind`` published; AssertionError if none comes within ``timeout``."""
        wait_until(lambda: any(e["type"] == kind for e in self.events()), timeout, f"a {kind!r} event")
        return next(e for e in self.events() if e["type"] == kind)

    def pin_levels(self) -> list[bool]:
        return [s.state for s in self.pin.states]

    def pulses(self) -> list[float]:
        """Lengths of the completed unlock pulses, in seconds (MockPin state times are deltas)."""
        states = list(self.pin.states)
        return [b.timestamp for a, b in itertools.pairwise(states) if a.state and not b.state]


@contextmanager
def running_door(
    cfg: Config,
    *,
    enrol: Enrolment | None = None,
    watch: Broker | None = None,
    wrap_camera: Callable[[Camera], Camera] | None = None,
    notifier: Notifier | None = None,
    on_stall: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    config_path: Path | None = None,
) -> Iterator[Door]:
    """The daemon's own composition (:func:`open_service`) on a MockFactory the test can read, on a thread.

    ``config_path`` is the file a reload (:meth:`Service.request_reload`) reads: the one ``cfg`` came from.
    With ``watch=broker`` a :class:`Collector` subscribes to the door's topics before it starts
    (:attr:`Door.collector`). Leaving the block stops the loop and checks that it ended.
    """
    factory = MockFactory()
    with ExitStack() as stack:
        collector = stack.enter_context(Collector(watch, [f"{cfg.topic_prefix}/#"])) if watch else None
        service = open_service(
            cfg,
            stack,
            config_path=config_path,
            pin_factory=factory,
            notifier=notifier,
            wrap_camera=wrap_camera,
            on_stall=on_stall,
            clock=clock,
        )
        if enrol is not None:
            list(enroll_photos(service.pipeline.recognizer, service.parts.store, enrol))
            service.reload_people()
        pin = factory.pin(cfg.relay.pin)
        assert isinstance(pin, MockPin)
        loop = threading.Thread(target=service.run, name="daemon")
        loop.start()
        try:
            if cfg.mqtt.enabled:  # the loop starts the publisher
                assert isinstance(service.parts.events, MqttPublisher)
                assert service.parts.events.wait_connected(10), "the daemon did not connect to the broker"
            yield Door(service, pin, cfg, collector, loop)
        finally:
            service.stop()
            loop.join(10)
            assert not loop.is_alive(), "the frame loop did not stop"
    factory.close()


@dataclass
class Bench:
    """A Service with no frame loop: the test calls ``service.process``, ``service.door.act`` and
    ``service.door.handle`` itself."""

    service: Service
    publisher: MemoryPublisher
    pin: MockPin


@contextmanager
def service_bench(
    cfg: Config,
    recognizer: Recognizer,
    *,
    enrol: Enrolment | None = None,
    liveness: LivenessStage | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Bench]:
    """A Service on the real store and relay (on a MockFactory the test reads), publishing to a
    MemoryPublisher with the config's remote unlock settings; its MemoryCamera is never read.

    ``recognizer`` takes the enrolled people's gallery when ``enrol`` is given: pass one of the test's own.
    """
    factory = MockFactory()
    with (
        DoorRelay.from_config(cfg.relay, factory) as relay,
        Store(cfg.store_path) as store,
        MemoryPublisher(cfg.mqtt.remote_unlock) as publisher,
    ):
        service = wire_service(
            cfg,
            camera=MemoryCamera(),
            recognizer=recognizer,
            store=store,
            publisher=publisher,
            relay=relay,
            liveness=liveness,
            clock=clock,
        )
        if enrol is not None:
            list(enroll_photos(recognizer, store, enrol))
            service.reload_people()
        pin = factory.pin(cfg.relay.pin)
        assert isinstance(pin, MockPin)
        yield Bench(service, publisher, pin)
    factory.close()
