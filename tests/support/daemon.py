"""The real daemon as a child process, and the scenes and brokers the fault tests put it through.

``DaemonProcess`` runs ``python -m edgeface -v --config FILE run`` and reads its log lines on a
thread, so a test can wait for a line, read the event ids the daemon logged (``id=...``) and kill
it at any moment. ``KillableBroker`` adds SIGKILL to the broker fixture's mosquitto.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import yaml
from gpiozero.pins.mock import MockFactory, MockPin

from edgeface.app import open_service
from edgeface.capture.camera import Camera
from edgeface.config import CameraConfig, Config, MqttConfig, RelayConfig
from edgeface.daemon.loop import Service
from edgeface.daemon.sdnotify import Notifier
from edgeface.mqtt.client import MqttPublisher
from edgeface.ops.enroll import enroll_photos
from tests.support.broker import Broker, Collector
from tests.support.data import FACES, ROOT
from tests.support.models import REPO_MODELS

STRANGER = FACES / "unknown" / "3.jpg"
DEMO_CLIP = ROOT / "config" / "demo" / "hamilton_clip.mp4"
DEMO_FACES = ROOT / "config" / "demo" / "faces"
LIN = DEMO_FACES / "lin_manuel_miranda.jpg"
"""An enrolled face of the demo: still frames of this photo are granted."""
EVENT_ID = re.compile(r" id=([0-9a-f-]{36})")


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.02)


def still_frames(folder: Path, photo: Path = STRANGER, count: int = 4) -> Path:
    """A folder source showing one photo frame after frame, as a still person before a camera."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shutil.copy(photo, folder / f"{i:03d}.jpg")
    return folder


def empty_scene(folder: Path) -> Path:
    """A folder source showing an empty grey room: no faces, so no events of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "000.jpg"), np.full((480, 640, 3), 90, np.uint8))
    return folder


def show(folder: Path, scene: Path) -> None:
    """Replace what a folder camera shows; it picks the change up at its next pass over the folder."""
    staged = folder.with_name(folder.name + ".new")
    shutil.copytree(scene, staged)
    old = folder.with_name(folder.name + ".old")
    folder.rename(old)
    staged.rename(folder)
    shutil.rmtree(old)


def write_config(path: Path, **sections: Any) -> Path:
    """A YAML config for a test daemon: repo models, mock pins, a private state dir beside the file."""
    data: dict[str, Any] = {
        "device_id": f"door{os.urandom(4).hex()}",
        "models_dir": str(REPO_MODELS),
        "state_dir": str(path.parent / "state"),
        "relay": {"pin_factory": "mock", "pulse_seconds": 0.5},
        "mqtt": {"enabled": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def mqtt_section(broker: Broker, **extra: Any) -> dict[str, Any]:
    return {"enabled": True, "host": broker.host, "port": broker.port, "keepalive": 5, **extra}


class DaemonProcess:
    """``edgeface -v --config CONFIG run`` in a child process, its stderr collected line by line."""

    def __init__(self, config: Path, *, env: dict[str, str] | None = None, verbose: bool = True) -> None:
        self.config = config
        self.settings = yaml.safe_load(config.read_text())
        args = [sys.executable, "-m", "edgeface", *(["-v"] if verbose else []), "--config", str(config), "run"]
        inherited = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        child_env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env, cwd=ROOT
        )
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def state_dir(self) -> Path:
        return Path(self.settings["state_dir"])

    @property
    def prefix(self) -> str:
        return f"edgeface/{self.settings['device_id']}"

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, count: int = 1) -> str:
        """The ``count``-th log line matching the regex ``pattern``; AssertionError (with the log) on timeout."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [line for line in self._lines if regex.search(line)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    tail = "\n".join(self._lines[-30:])
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout} s:\n{tail}")
                self._cond.wait(min(left, 0.2))

    def event_ids(self) -> list[str]:
        """Ids of the events the daemon recorded, in order (from the one ``decision`` line of each)."""
        return [m.group(1) for line in self.lines() if "decision type=" in line and (m := EVENT_ID.search(line))]

    def wait(self, timeout: float = 20.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def terminate(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class KillableBroker(Broker):
    """The test broker, plus an unclean death."""

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


@contextmanager
def killable_broker(workdir: Path, extra: str = "") -> Iterator[KillableBroker]:
    workdir.mkdir(parents=True, exist_ok=True)
    server = KillableBroker(workdir, extra=extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def integrity(path: Path) -> str:
    """SQLite's integrity check of a file no process has open."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return "; ".join(str(r[0]) for r in db.execute("PRAGMA integrity_check"))


def outbox_count(path: Path) -> int:
    """Events waiting in an outbox (readable while the daemon runs: WAL lets readers in)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


class NotifySocket:
    """A stand-in for systemd's notify socket: a datagram socket that records every message with its time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def times(self, field: str) -> list[float]:
        return [t for t, m in list(self.messages) if field in m.split("\n")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def event_payload_ids(payloads: list[bytes]) -> list[str]:
    return [json.loads(p)["id"] for p in payloads]


class FlaggedCollector(Collector):
    """A Collector that also records each message's DUP flag.

    A broker sets DUP when it re-sends a message to this subscriber (its PUBACK was lost when the
    broker went away): such a copy is the broker's redelivery on the last hop. A copy without DUP is
    a fresh delivery, so two of them for one event id mean the broker *accepted* it twice.
    """

    def __init__(self, broker: Broker, topics: list[str], *, persistent: bool = False) -> None:
        super().__init__(broker, topics, persistent=persistent)
        self.flags: list[tuple[str, bool, float]] = []

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.flags.append((json.loads(msg.payload)["id"], bool(msg.dup), time.monotonic()))
        super()._on_message(client, userdata, msg)

    def fresh(self) -> list[tuple[str, float]]:
        """(event id, arrival time) of the deliveries not flagged DUP, in arrival order."""
        with self._cond:
            return [(event_id, at) for event_id, dup, at in self.flags if not dup]

    def ids(self) -> list[str]:
        with self._cond:
            return [event_id for event_id, _, _ in self.flags]


class Door:
    """A daemon running on a thread of the test process: its service, its relay's pin, its topics."""

    def __init__(self, service: Service, pin: MockPin, cfg: Config) -> None:
        self.service, self.pin, self.cfg = service, pin, cfg

    def topic(self, name: str) -> str:
        return f"{self.cfg.topic_prefix}/{name}"

    def pin_levels(self) -> list[bool]:
        return [s.state for s in self.pin.states]

    def pulses(self) -> list[float]:
        """Lengths of the completed unlock pulses, in seconds (MockPin state times are deltas)."""
        states = list(self.pin.states)
        return [b.timestamp for a, b in itertools.pairwise(states) if a.state and not b.state]


def service_config(tmp_path: Path, source: Path, broker: Broker | None = None, **sections: Any) -> Config:
    """A Config for an in-process daemon: mock pins, repo models, a private state dir."""
    mqtt = MqttConfig(host=broker.host, port=broker.port, keepalive=5) if broker else MqttConfig(enabled=False)
    fields: dict[str, Any] = {
        "device_id": f"door{os.urandom(4).hex()}",
        "models_dir": REPO_MODELS,
        "state_dir": tmp_path / "state",
        "camera": CameraConfig(path=str(source), fps=30.0, loop=True, reopen_max_seconds=0.4),
        "relay": RelayConfig(pulse_seconds=0.4, pin_factory="mock"),
        "mqtt": mqtt,
    }
    fields.update(sections)
    return Config(**fields)


@contextmanager
def running_door(
    cfg: Config,
    *,
    enrol: list[tuple[str, Path]] | None = None,
    wrap_camera: Callable[[Camera], Camera] | None = None,
    notifier: Notifier | None = None,
    on_stall: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Door]:
    """The daemon's own composition (:func:`open_service`) on a MockFactory the test can read, on a thread."""
    factory = MockFactory()
    with ExitStack() as stack:
        service = open_service(
            cfg, stack, pin_factory=factory, notifier=notifier, wrap_camera=wrap_camera, on_stall=on_stall, clock=clock
        )
        if enrol:
            list(enroll_photos(service.recognizer, service.store, enrol))
            service.reload_people()
        if cfg.mqtt.enabled:
            assert isinstance(service.publisher, MqttPublisher)
            assert service.publisher.wait_connected(10), "the daemon did not connect to the broker"
        pin = factory.pin(cfg.relay.pin)
        assert isinstance(pin, MockPin)
        loop = threading.Thread(target=service.run, name="daemon")
        loop.start()
        try:
            yield Door(service, pin, cfg)
        finally:
            service.stop()
            loop.join(10)
            assert not loop.is_alive(), "the frame loop did not stop"
    factory.close()


@contextmanager
def small_filesystem(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (0700): a disk that really fills up, or can be made read-only.

    Needs root (tests run as root in CI): root ignores file modes, so chmod cannot play a read-only or
    full disk for it, and a size-limited filesystem is the honest way.
    """
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=False, capture_output=True, text=True
    )
    if mounted.returncode != 0:
        raise AssertionError(f"cannot mount a tmpfs for the disk tests (they need root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, option: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{option}", str(path)], check=True, capture_output=True)


def fill(path: Path) -> int:
    """Write a file until the filesystem is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                written += fh.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return written
