"""The door daemon end to end: real frames, real models, a real broker, gpiozero's mock pins."""

from __future__ import annotations

import json
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from edgeface.app import open_service
from edgeface.config import CameraConfig, Config, MqttConfig, RelayConfig, RemoteUnlockConfig
from edgeface.daemon.loop import Service
from edgeface.ops.enroll import enroll_photos, photos_in
from edgeface.storage.people import Store
from edgeface.values import Decision, EventType
from tests.support.broker import Broker, Collector
from tests.support.data import FACES, ROOT
from tests.support.models import REPO_MODELS

DEMO_FACES = ROOT / "config" / "demo" / "faces"
DEMO_CLIP = ROOT / "config" / "demo" / "hamilton_clip.mp4"
PULSE = 0.4
EVENT_KEYS = {"id", "ts", "device", "type", "person", "similarity", "frames"}


def still_frames(tmp_path: Path, photo: Path, count: int = 4) -> Path:
    """A folder source showing one photo frame after frame, as a still person before a camera."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(count):
        shutil.copy(photo, folder / f"{i:03d}.jpg")
    return folder


def empty_scene(tmp_path: Path) -> Path:
    """A folder source showing an empty grey room: no faces, so no events of its own."""
    folder = tmp_path / "empty"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.jpg"), np.full((480, 640, 3), 90, np.uint8))
    return folder


def daemon_config(tmp_path: Path, broker: Broker, source: Path, **sections: object) -> Config:
    return Config(
        device_id=f"door{uuid.uuid4().hex[:8]}",  # the session broker keeps retained topics between tests
        models_dir=REPO_MODELS,
        state_dir=tmp_path / "state",
        camera=CameraConfig(path=str(source), fps=30.0, loop=True),
        relay=RelayConfig(pulse_seconds=PULSE, pin_factory="mock"),
        mqtt=MqttConfig(host=broker.host, port=broker.port, keepalive=5),
        **sections,  # type: ignore[arg-type]
    )


class Door:
    """A running daemon and the things a test looks at: its pin, its topics."""

    def __init__(self, service: Service, pin: MockPin, collector: Collector, cfg: Config) -> None:
        self.service, self.pin, self.collector, self.cfg = service, pin, collector, cfg

    def topic(self, name: str) -> str:
        return f"{self.cfg.topic_prefix}/{name}"

    def events(self) -> list[dict[str, object]]:
        return [json.loads(m.payload) for m in self.collector.messages(self.topic("event"))]

    def wait_event(self, kind: str, timeout: float = 20.0) -> dict[str, object]:
        wait_until(lambda: any(e["type"] == kind for e in self.events()), timeout)
        return next(e for e in self.events() if e["type"] == kind)

    def pin_levels(self) -> list[bool]:
        return [s.state for s in self.pin.states]


@contextmanager
def running_daemon(cfg: Config, broker: Broker, enrol: Path | None = DEMO_FACES) -> Iterator[Door]:
    """The daemon's own composition (:func:`open_service`) on a MockFactory the test can read, on a thread."""
    factory = MockFactory()
    with ExitStack() as stack, Collector(broker, [f"{cfg.topic_prefix}/#"]) as collector:
        service = open_service(cfg, stack, pin_factory=factory)
        if enrol is not None:
            list(enroll_photos(service.recognizer, service.store, photos_in(enrol)))
            service.reload_people()
        pin = factory.pin(cfg.relay.pin)
        assert isinstance(pin, MockPin)
        loop = threading.Thread(target=service.run, name="daemon")
        loop.start()
        try:
            yield Door(service, pin, collector, cfg)
        finally:
            service.stop()
            loop.join(10)
            assert not loop.is_alive(), "the frame loop did not stop"
    factory.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_an_enrolled_person_on_camera_is_granted_and_the_door_pulses(tmp_path: Path, broker: Broker) -> None:
    cfg = daemon_config(tmp_path, broker, DEMO_CLIP)
    with running_daemon(cfg, broker) as door:
        granted = door.wait_event("granted")
        assert granted["person"] == "lin_manuel_miranda"
        assert set(granted) >= EVENT_KEYS and granted["device"] == cfg.device_id
        assert granted["frames"] >= cfg.decide.required
        assert granted["similarity"] >= cfg.threshold
        uuid.UUID(str(granted["id"]), version=4)
        wait_until(lambda: door.pin_levels()[-2:] == [True, False], timeout=PULSE + 3)
        assert door.pin.states[-1].timestamp == pytest.approx(PULSE, abs=0.15)  # MockPin times are deltas
        doors = [m.payload.decode() for m in door.collector.messages(door.topic("door"))]
        assert doors[-2:] == ["unlocked", "locked"]
    assert door.pin.state is False, "stopped daemon leaves the door locked"


def test_a_stranger_is_reported_unknown_and_the_door_stays_locked(tmp_path: Path, broker: Broker) -> None:
    cfg = daemon_config(tmp_path, broker, still_frames(tmp_path, FACES / "unknown" / "3.jpg"))
    with running_daemon(cfg, broker) as door:
        unknown = door.wait_event("unknown")
        assert unknown["person"] is None and unknown["frames"] >= cfg.decide.required
        time.sleep(0.5)  # more frames of the stranger: still no grant, one event per cooldown
        assert [e["type"] for e in door.events()] == ["unknown"]
        assert True not in door.pin_levels()


def test_a_remote_unlock_pulses_the_door_and_a_malformed_one_changes_nothing(tmp_path: Path, broker: Broker) -> None:
    cfg = daemon_config(tmp_path, broker, empty_scene(tmp_path))
    mqtt = cfg.mqtt.model_copy(update={"remote_unlock": RemoteUnlockConfig(enabled=True, max_seconds=1.0)})
    cfg = cfg.model_copy(update={"mqtt": mqtt})
    with running_daemon(cfg, broker, enrol=None) as door:
        for bad in (b"{", b'{"seconds": "ten"}', b'{"seconds": -1}', b'{"open": true}', b"\xff" * 2000):
            door.collector.send(door.topic("cmd/unlock"), bad)
        door.collector.sync()
        time.sleep(0.5)
        assert True not in door.pin_levels(), "malformed commands must not move the relay"
        door.collector.send(door.topic("cmd/unlock"), b'{"seconds": 0.3}')
        wait_until(lambda: door.pin_levels()[-2:] == [True, False], timeout=3)
        assert door.pin.states[-1].timestamp == pytest.approx(0.3, abs=0.15)
        door.pin.clear_states()
        door.collector.send(door.topic("cmd/unlock"), b'{"seconds": 3600}')  # clamped to max_seconds
        wait_until(lambda: door.pin_levels() == [False, True, False], timeout=3)
        assert door.pin.states[-1].timestamp == pytest.approx(1.0, abs=0.15)


def test_remote_unlock_is_ignored_unless_enabled(tmp_path: Path, broker: Broker) -> None:
    cfg = daemon_config(tmp_path, broker, empty_scene(tmp_path))
    with running_daemon(cfg, broker, enrol=None) as door:
        door.collector.send(door.topic("cmd/unlock"), b"")
        door.collector.sync()
        time.sleep(0.5)
        assert True not in door.pin_levels()


def test_events_made_while_the_broker_is_down_arrive_once_each_in_order(tmp_path: Path, broker: Broker) -> None:
    cfg = daemon_config(tmp_path, broker, empty_scene(tmp_path))
    with running_daemon(cfg, broker, enrol=None) as door:
        watcher = Collector(broker, [door.topic("event")], persistent=True).__enter__()
        try:
            before = Decision(EventType.DENIED, "ann", 0.6, 3, reason="schedule")
            door.service.act(before)
            watcher.wait(1)
            broker.stop()
            try:
                for i in range(20):
                    door.service.act(Decision(EventType.UNKNOWN, None, 0.1 + i / 100, 3))
            finally:
                broker.start()
            watcher.wait(21, timeout=20)
            time.sleep(0.5)  # a duplicate would arrive right behind
            got = [json.loads(m.payload) for m in watcher.messages()]
            ids = [e["id"] for e in got]
            assert len(ids) == len(set(ids)) == 21, "every event exactly once"
            assert [e["similarity"] for e in got[1:]] == [round(0.1 + i / 100, 4) for i in range(20)], "in order"
        finally:
            watcher.close()


def test_sighup_style_reload_picks_up_new_people_without_dropping_the_camera(tmp_path: Path, broker: Broker) -> None:
    cfg = daemon_config(tmp_path, broker, still_frames(tmp_path, FACES / "joe_biden" / "2.jpg"))
    with running_daemon(cfg, broker, enrol=None) as door:
        door.wait_event("unknown")
        camera = door.service.camera
        with Store(cfg.store_path) as store:
            list(enroll_photos(door.service.recognizer, store, [("joe", FACES / "joe_biden" / "1.jpg")]))
        door.collector.send(door.topic("cmd/reload"), b"")
        granted = door.wait_event("granted")
        assert granted["person"] == "joe"
        assert door.service.camera is camera


def test_the_daemon_process_starts_reloads_and_stops_cleanly_on_signals(tmp_path: Path, broker: Broker) -> None:
    device = f"proc{uuid.uuid4().hex[:8]}"
    config = tmp_path / "edgeface.yaml"
    config.write_text(
        f"device_id: {device}\nmodels_dir: {REPO_MODELS}\nstate_dir: state\n"
        f"camera: {{path: {empty_scene(tmp_path)}, fps: 10}}\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}, keepalive: 5}}\n"
        "relay: {pin_factory: mock}\n"
    )
    prefix = f"edgeface/{device}"
    with Collector(broker, [f"{prefix}/#"]) as watcher:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeface", "-v", "--config", str(config), "run"],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: b"online" in [m.payload for m in watcher.messages(f"{prefix}/availability")], 30)
            wait_until(lambda: [m.payload for m in watcher.messages(f"{prefix}/door")][-1:] == [b"locked"], 5)
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            proc.kill()
            stderr = proc.stderr.read() if proc.stderr else ""
        assert "reloaded" in stderr
        wait_until(lambda: watcher.messages(f"{prefix}/availability")[-1].payload == b"offline", 5)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    for path in (tmp_path / "state").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
