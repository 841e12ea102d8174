"""Faults a door meets on site, played against the real daemon, a real mosquitto and the real store.

Each test runs ``edgeface run`` as a child process (or the daemon's own composition on a thread
where a test must read the relay's pins), breaks something, and checks that nothing is lost, the
door stays locked and the daemon either recovers by itself or exits for its service manager.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeface.capture.camera import Camera
from edgeface.config import DaemonConfig
from edgeface.daemon.sdnotify import Notifier
from edgeface.daemon.stallguard import EXIT_STALLED
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.outbox import Outbox
from edgeface.storage.people import Store
from edgeface.values import DoorState, Frame
from edgeface.vision.recognize import Recognizer
from tests.support.broker import Broker, Collector, FlaggedCollector, killable_broker
from tests.support.cameras import WrappedCamera
from tests.support.configs import mqtt_section, service_config, write_config
from tests.support.data import DEMO_CLIP, LIN, ROOT
from tests.support.disk import fill, integrity, outbox_count, remount, small_filesystem
from tests.support.door import running_door
from tests.support.process import DaemonProcess, NotifySocket
from tests.support.scenes import empty_scene, show, still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

EVENT_STORM: dict[str, Any] = {
    "decide": {"unknown_cooldown_seconds": 0, "stranger_cooldown_seconds": 0, "stranger_memory_seconds": 0},
    "daemon": {"decisions_per_minute": 10_000},
}
"""Config sections under which a stranger makes an event every frame: no cooldowns, no rate limit."""


def test_events_survive_a_flapping_broker_killed_mid_publish_once_each_and_in_order(tmp_path: Path) -> None:
    camera = still_frames(tmp_path / "camera")  # a stranger: with EVENT_STORM, an unknown event every frame
    crashes: list[float] = []
    with killable_broker(tmp_path / "broker") as broker:
        config = write_config(
            tmp_path / "edgeface.yaml",
            camera={"path": str(camera), "fps": 30},
            mqtt=mqtt_section(broker),
            **EVENT_STORM,
        )
        with DaemonProcess(config) as daemon:
            watcher = FlaggedCollector(broker, [f"{daemon.prefix}/event"], persistent=True).__enter__()
            try:
                daemon.wait_for("connected to MQTT broker")
                broker.stop()  # a clean stop first, so the broker has the watcher's session on disk
                broker.start()
                for round_ in range(6):
                    daemon.wait_for("connected to MQTT broker", count=round_ + 2)
                    time.sleep(0.7)  # events flow; the kill lands while they do
                    if round_ % 2:
                        crashes.append(time.monotonic())
                        broker.kill()
                    else:
                        broker.stop()
                    time.sleep(0.5)
                    broker.start()
                show(camera, empty_scene(tmp_path / "empty"))  # the stranger leaves: no more events
                outbox = daemon.state_dir / "outbox.db"
                wait_until(lambda: outbox_count(outbox) == 0, 30, "an empty outbox")
                produced = daemon.event_ids()
                wait_until(lambda: set(produced) <= set(watcher.ids()), 10, "every event at the subscriber")
                time.sleep(0.5)  # a duplicate would arrive right behind
                assert daemon.terminate() == 0
            finally:
                watcher.close()
    received = watcher.ids()
    assert len(produced) > 100
    assert list(dict.fromkeys(received)) == produced, "every event arrives, in the order it was made"
    # Copies flagged DUP are the broker re-sending to this subscriber after its own restart (the last
    # hop, not the daemon). A second *fresh* copy means the broker accepted an event twice: allowed only
    # for an event whose PUBACK died with a SIGKILLed broker (first copy just before the kill, second after).
    first_at: dict[str, float] = {}
    for event_id, at in watcher.fresh():
        if event_id in first_at:
            assert any(first_at[event_id] <= k < at and k - first_at[event_id] < 1.0 for k in crashes), (
                f"event {event_id} was accepted twice without a broker crash in between"
            )
        first_at.setdefault(event_id, at)
    redelivered = len(received) - len(produced)
    print(f"produced {len(produced)}, received {len(received)} ({redelivered} redelivered by the broker)")


# --- the camera -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "video file"])
def test_a_vanished_camera_is_logged_once_retried_and_recovered_without_a_restart_door_locked(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    if kind == "folder":
        source = still_frames(tmp_path / "camera", LIN)
    else:
        source = tmp_path / "door.mp4"
        shutil.copy(DEMO_CLIP, source)
    cfg = service_config(tmp_path, source)
    caplog.set_level(logging.INFO, logger="edgeface")
    with running_door(cfg, enrol=[("lin", LIN)]) as door:
        camera = door.service.camera
        wait_until(lambda: door.service.metrics.total("frames") > 10, 10, "frames")
        wait_until(lambda: door.service.door.relay.state is DoorState.LOCKED, 5, "the door locked")
        hidden = source.with_name(source.name + ".gone")
        source.rename(hidden)
        wait_until(lambda: not camera.stats.online, 5, "the outage noticed")
        door.pin.clear_states()
        frames = door.service.metrics.total("frames")
        time.sleep(3.0)  # several reopen attempts (backoff capped at 0.4 s here)
        assert door.service.metrics.total("frames") <= frames + 1, "no frames while the camera is gone"
        assert door.pin_levels() == [False], "the relay stays locked while the camera is gone"
        hidden.rename(source)
        wait_until(lambda: camera.stats.online and door.service.metrics.total("frames") > frames + 10, 10, "recovery")
        assert door.service.camera is camera, "recovered in place, not by a restart"
        assert camera.stats.reconnects == 1
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "edgeface.capture.camera" and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1 and "reopening (backoff" in warnings[0], warnings
    backs = [
        r.getMessage() for r in caplog.records if r.name == "edgeface.capture.camera" and "is back" in r.getMessage()
    ]
    assert len(backs) == 1


# --- kill -9 ------------------------------------------------------------------------------------------------


def test_kill_9_while_unlocked_then_the_next_start_locks_first_and_loses_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    camera = still_frames(tmp_path / "camera")  # a stranger: events are being written when the kill lands
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(camera), "fps": 30},
        mqtt=mqtt_section(broker, remote_unlock={"enabled": True, "max_seconds": 60}),
        **EVENT_STORM,
    )
    settings = yaml.safe_load(config.read_text())
    prefix = f"edgeface/{settings['device_id']}"
    watcher = FlaggedCollector(broker, [f"{prefix}/event"], persistent=True).__enter__()
    doors = Collector(broker, [f"{prefix}/door"]).__enter__()
    try:
        with DaemonProcess(config) as first:
            first.wait_for("connected to MQTT broker")
            send_until(doors, f"{prefix}/cmd/unlock", b'{"seconds": 60}', first, r"door unlocked \(GPIO17\)")
            wait_until(lambda: [m.payload for m in doors.messages()][-1:] == [b"unlocked"], 5, "door unlocked")
            wait_until(lambda: len(first.event_ids()) > 20, 10, "events flowing")
            first.proc.send_signal(signal.SIGKILL)
            assert first.proc.wait(10) == -signal.SIGKILL
        produced = first.event_ids()  # every event the first run recorded (logged after its fsync)
        state = first.state_dir
        assert integrity(state / "outbox.db") == "ok"
        assert integrity(state / "people.db") == "ok"

        show(camera, empty_scene(tmp_path / "empty"))
        with DaemonProcess(config) as second:
            second.wait_for("edgeface running")
            ours = [line for line in second.lines() if " edgeface." in line]
            assert "door relay on GPIO17 driven locked before anything else" in ours[0], ours[:3]
            wait_until(lambda: [m.payload for m in doors.messages()][-1:] == [b"locked"], 10, "door locked")
            wait_until(lambda: outbox_count(state / "outbox.db") == 0, 15, "the outbox delivered")
            wait_until(lambda: set(produced) <= set(watcher.ids()), 10, "every event delivered")
            assert second.terminate() == 0
        assert list(dict.fromkeys(watcher.ids())) == produced, "nothing lost, nothing reordered"
    finally:
        watcher.close()
        doors.close()


def send_until(sender: Collector, topic: str, payload: bytes, daemon: DaemonProcess, line: str) -> None:
    """Send a command until the daemon logs ``line`` (it may not have subscribed yet when it first goes)."""
    for _ in range(20):
        sender.send(topic, payload)
        try:
            daemon.wait_for(line, timeout=0.5)
        except AssertionError:
            continue
        return
    raise AssertionError(f"the daemon never logged {line!r}")


CHILD_WRITER = """
import sys, time, uuid
from pathlib import Path
import numpy as np
from edgeface.storage.outbox import Outbox
from edgeface.storage.people import Store
from edgeface.values import Event, EventType
state = Path(sys.argv[1])
with Store(state / "people.db") as store, Outbox(state / "outbox.db", 100_000) as outbox:
    for i in range(100_000):
        vector = np.full(128, i % 7, np.float32)
        store.add_template(f"p{i}", vector, ("m", "0" * 64), photo_sha256=f"{i}")
        event = Event(str(uuid.uuid4()), "t", "d", EventType.UNKNOWN, None, 0.0, 3)
        outbox.put(event)
        print(i, event.id, flush=True)
"""


def test_a_store_and_outbox_write_interrupted_by_kill_9_loses_nothing_committed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITER, str(state)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert child.stdout is not None
    committed = [child.stdout.readline().split() for _ in range(200)]
    child.kill()  # mid-write: the child commits as fast as it can
    child.wait()
    rest = child.stdout.read().split("\n")
    committed += [line.split() for line in rest if line.strip()]
    assert integrity(state / "people.db") == integrity(state / "outbox.db") == "ok"
    with Store(state / "people.db") as store:
        people = {p.name for p in store.people()}
    assert {f"p{i}" for i, _ in committed} <= people
    with Outbox(state / "outbox.db", 100_000) as outbox:
        waiting = [e.id for _, e in outbox.pending(limit=100_000)]
    assert waiting[: len(committed)] == [event_id for _, event_id in committed]


# --- a full or read-only disk ------------------------------------------------------------------------------


def enrol_lin(recognizer: Recognizer, store_path: Path) -> None:
    with Store(store_path) as store:
        results = list(enroll_photos(recognizer, store, [("lin", LIN)]))
    assert [r.outcome.value for r in results] == ["enrolled"]


def test_a_full_disk_keeps_the_door_locked_and_exits_non_zero_with_one_line(
    tmp_path: Path, recognizer: Recognizer
) -> None:
    camera = empty_scene(tmp_path / "camera")
    with small_filesystem(tmp_path / "state", "1m") as state:
        enrol_lin(recognizer, state / "people.db")
        config = write_config(tmp_path / "edgeface.yaml", state_dir=str(state), camera={"path": str(camera)})
        with DaemonProcess(config) as daemon:
            daemon.wait_for("edgeface running")
            fill(state / "filler")
            show(camera, still_frames(tmp_path / "lin", LIN))  # someone who is let in, if the event can be stored
            started = time.monotonic()
            assert daemon.wait(20) == 1
            assert time.monotonic() - started < 15, "exits promptly, no retry loop"
        log = daemon.lines()
        errors = [line for line in log if "error" in line.lower()]
        assert len(errors) == 1, errors
        assert errors[0].startswith("edgeface: error: ") and "state directory is full or not writable" in errors[0]
        assert not [line for line in log if "door unlocked" in line], "no unlock without an audit record"
        assert integrity(state / "people.db") == integrity(state / "outbox.db") == "ok"

        with DaemonProcess(config, verbose=False) as again:  # systemd's restart, with the disk still full
            assert again.wait(20) == 1
        (line,) = again.lines()
        assert line.startswith("edgeface: error: ") and "full or not writable" in line, line


def test_a_read_only_state_directory_is_refused_at_start_with_one_line(tmp_path: Path) -> None:
    camera = empty_scene(tmp_path / "camera")
    with small_filesystem(tmp_path / "state", "1m") as state:
        config = write_config(tmp_path / "edgeface.yaml", state_dir=str(state), camera={"path": str(camera)})
        with DaemonProcess(config) as first:  # state files as a previous run left them
            first.wait_for("edgeface running")
            assert first.terminate() == 0
        remount(state, "ro")
        with DaemonProcess(config, verbose=False) as daemon:
            assert daemon.wait(20) == 1
        (line,) = daemon.lines()
        assert line.startswith("edgeface: error: ") and "Read-only file system" in line, line
        with DaemonProcess(config) as verbose:
            assert verbose.wait(20) == 1
        ours = [line for line in verbose.lines() if " edgeface." in line or line.startswith("edgeface:")]
        assert "door relay on GPIO17 driven locked" in ours[0], ours
        assert ours[-1].startswith("edgeface: error: "), ours


# --- the watchdog -------------------------------------------------------------------------------------------


class FreezableCamera(WrappedCamera):
    """The real camera, whose ``read`` can be made to hang as a wedged driver's would."""

    def __init__(self, inner: Camera) -> None:
        super().__init__(inner)
        self.frozen = threading.Event()
        self.released = threading.Event()

    def read(self, timeout: float) -> Frame | None:
        if self.frozen.is_set():
            self.released.wait()
        return self.inner.read(timeout)


def test_a_frozen_frame_loop_stops_the_watchdog_pings_and_the_stall_guard_fires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # systemd's WatchdogSec=1: a ping every 0.25 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    cfg = service_config(tmp_path, empty_scene(tmp_path / "camera"), daemon=DaemonConfig(stall_seconds=1.5))
    stalls: list[tuple[float, str]] = []
    cameras: list[FreezableCamera] = []

    def freezable(camera: Camera) -> Camera:
        cameras.append(FreezableCamera(camera))
        return cameras[0]

    try:
        with running_door(
            cfg,
            wrap_camera=freezable,
            notifier=Notifier(str(sock.path)),
            on_stall=lambda reason: stalls.append((time.monotonic(), reason)),
        ) as door:
            wait_until(lambda: len(sock.times("WATCHDOG=1")) >= 4, 5, "watchdog pings")
            assert sock.times("READY=1"), "READY=1 before the pings"
            frozen_at = time.monotonic()
            cameras[0].frozen.set()
            wait_until(lambda: bool(stalls), 6, "the stall guard")
            late_pings = [t for t in sock.times("WATCHDOG=1") if t > frozen_at + 0.5]
            assert late_pings == [], "a frozen loop sends no WATCHDOG=1: systemd restarts it after WatchdogSec"
            when, reason = stalls[0]
            assert 1.3 <= when - frozen_at < 4.0  # stall_seconds after the loop's last beat
            assert "frame loop has not come round" in reason and "a camera read" in reason, reason
            assert door.service.door.relay.state is DoorState.LOCKED
            cameras[0].released.set()
            wait_until(lambda: len([t for t in sock.times("WATCHDOG=1") if t > when]) >= 2, 5, "pings again")
        assert len(stalls) == 1
    finally:
        if cameras:
            cameras[0].released.set()
        sock.close()


def test_a_hung_camera_read_locks_the_door_and_exits_3_for_a_restart(tmp_path: Path, broker: Broker) -> None:
    camera = empty_scene(tmp_path / "camera")
    os.mkfifo(camera / "001.jpg")  # reading it blocks until a writer comes, which never does: a hung read
    sock = NotifySocket(tmp_path / "notify.sock")
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(camera), "fps": 30},
        daemon={"stall_seconds": 5},
        mqtt=mqtt_section(broker, remote_unlock={"enabled": True, "max_seconds": 60}),
    )
    env = {"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "2000000"}
    try:
        with DaemonProcess(config, env=env) as daemon, Collector(broker, [f"{daemon.prefix}/door"]) as doors:
            daemon.wait_for("connected to MQTT broker")
            send_until(doors, f"{daemon.prefix}/cmd/unlock", b'{"seconds": 60}', daemon, "door unlocked")
            assert daemon.wait(20) == EXIT_STALLED
        log = daemon.lines()
        (stalled,) = [line for line in log if "stalled:" in line]
        assert "the camera has delivered no frame" in stalled
        after = log[log.index(stalled) :]
        assert any("door locked (GPIO17)" in line for line in after), "the door is locked before the exit"
        messages = [m for _, m in sock.messages]
        assert messages[0].startswith("READY=1")
        assert "WATCHDOG=1" in messages
        assert messages[-1].startswith("STATUS=stalled: the camera")
    finally:
        sock.close()
