#!/usr/bin/env python3
"""Soak test: the real daemon at full frame rate on the demo clip, with the MQTT broker flapping.

Runs ``edgeface run`` as a child process for a bounded time against a private mosquitto on a free
loopback port, stopping the broker for a few seconds every ``--flap-seconds`` (alternating a clean
stop and a SIGKILL). A persistent subscriber collects every event. At the end the broker stays up
until the daemon's outbox is empty, the daemon is stopped with SIGTERM, and the script reports:

* the daemon's resident memory (RSS) and open file descriptors after warm-up and at the end;
* events produced (ids the daemon logged after storing them) against events received (by id):
  lost, duplicated, out of order;
* frames processed (the daemon's own count) and so the frame rate.

Not part of CI. Run from a checkout, after ``make setup``::

    .venv/bin/python deploy/soak.py                  # 10 minutes
    .venv/bin/python deploy/soak.py --minutes 3 --json

Exit status: 0 when no event was lost, 1 otherwise (or when the daemon died).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
EVENT_ID = re.compile(r" id=([0-9a-f-]{36})")
STOPPED = re.compile(r"stopped after: (\d+) frames, (\d+) faces, (\d+) embedded, (\d+) decisions")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A private mosquitto that can be stopped, killed and started again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.executable = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nuser {pwd.getpwuid(os.getuid()).pw_name}\n"
            f"max_queued_messages 0\nlog_dest file {workdir}/mosquitto.log\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.executable, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None


class Subscriber:
    """A persistent-session subscriber recording every event id, and whether the broker flagged it DUP."""

    def __init__(self, port: int, topic: str) -> None:
        self.ids: list[str] = []
        self.redelivered = 0
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"soak-{uuid.uuid4().hex[:8]}", clean_session=False
        )
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("the soak subscriber could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.ids.append(json.loads(msg.payload)["id"])
            self.redelivered += bool(msg.dup)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def proc_sample(pid: int) -> tuple[int, int, int]:
    """(RSS in KiB, open file descriptors, threads) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def outbox_waiting(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return -1


@dataclass
class Report:
    minutes: float
    flap_seconds: float
    broker_outages: int = 0
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_max_mib: float = 0.0
    fds_start: int = 0
    fds_end: int = 0
    fds_max: int = 0
    threads_start: int = 0
    threads_end: int = 0
    seconds_run: float = 0.0
    frames: int = 0
    fps: float = 0.0
    decisions: int = 0
    events_produced: int = 0
    events_received_unique: int = 0
    events_lost: int = 0
    events_in_order: bool = True
    deliveries_total: int = 0
    deliveries_redelivered_by_broker: int = 0
    duplicates_not_flagged: int = 0
    daemon_exit: int | None = None
    samples: list[tuple[float, float, int]] = field(default_factory=list)
    """(seconds since start, RSS MiB, fds) every sample."""


def write_config(workdir: Path, port: int, args: argparse.Namespace) -> Path:
    config = workdir / "edgeface.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "device_id": f"soak{uuid.uuid4().hex[:6]}",
                "models_dir": str(ROOT / "models"),
                "state_dir": str(workdir / "state"),
                "camera": {"source": "file", "path": str(args.clip), "fps": args.fps, "loop": True},
                "decide": {"cooldown_seconds": args.cooldown, "unknown_cooldown_seconds": args.cooldown},
                "daemon": {"decisions_per_minute": 10_000},
                "mqtt": {"host": "127.0.0.1", "port": port, "keepalive": 5},
                "relay": {"pin_factory": "mock", "pulse_seconds": 0.5},
            }
        )
    )
    return config


def sample(report: Report, pid: int, since: float) -> None:
    rss, fds, threads = proc_sample(pid)
    if not report.samples:
        report.rss_start_mib, report.fds_start, report.threads_start = round(rss / 1024, 1), fds, threads
    report.samples.append((round(time.monotonic() - since, 1), round(rss / 1024, 1), fds))
    report.rss_end_mib, report.fds_end, report.threads_end = round(rss / 1024, 1), fds, threads


def drive(daemon: subprocess.Popen[bytes], broker: Broker, report: Report, args: argparse.Namespace) -> None:
    """Run for ``--minutes`` while sampling and flapping the broker (clean stop, then SIGKILL, in turn)."""
    started = time.monotonic()
    end = started + args.minutes * 60
    next_flap = started + args.flap_seconds
    next_sample = started + args.warmup
    while time.monotonic() < end and daemon.poll() is None:
        now = time.monotonic()
        if now >= next_sample:
            sample(report, daemon.pid, started)
            next_sample = now + args.sample_seconds
        if now >= next_flap and now + args.outage_seconds < end:
            broker.stop(kill=report.broker_outages % 2 == 1)
            report.broker_outages += 1
            time.sleep(args.outage_seconds)
            broker.start()
            next_flap = time.monotonic() + args.flap_seconds
        time.sleep(0.2)


def finish(daemon: subprocess.Popen[bytes], outbox: Path, report: Report, started: float) -> None:
    """With the broker up for good, let the outbox drain, then stop the daemon with SIGTERM."""
    deadline = time.monotonic() + 60
    while outbox_waiting(outbox) != 0 and time.monotonic() < deadline and daemon.poll() is None:
        time.sleep(0.5)
    time.sleep(2)  # the last PUBACKs, and a duplicate would arrive now
    if daemon.poll() is None:
        sample(report, daemon.pid, started)
        report.samples.pop()  # the end figures, not a periodic sample
        daemon.send_signal(signal.SIGTERM)
    report.seconds_run = round(time.monotonic() - started, 1)
    report.daemon_exit = daemon.wait(30)


def summarise(report: Report, log: list[str], subscriber: Subscriber) -> None:
    produced = [m.group(1) for line in log if (m := EVENT_ID.search(line))]
    for line in log:
        if m := STOPPED.search(line):
            report.frames, report.decisions = int(m.group(1)), int(m.group(4))
    report.fps = round(report.frames / report.seconds_run, 2) if report.seconds_run else 0.0
    unique = list(dict.fromkeys(subscriber.ids))
    report.events_produced = len(produced)
    report.events_received_unique = len(unique)
    report.events_lost = len(set(produced) - set(unique))
    report.events_in_order = [i for i in unique if i in set(produced)] == produced
    report.deliveries_total = len(subscriber.ids)
    report.deliveries_redelivered_by_broker = subscriber.redelivered
    report.duplicates_not_flagged = len(subscriber.ids) - len(unique) - subscriber.redelivered
    report.rss_max_mib = max([report.rss_end_mib, *(rss for _, rss, _ in report.samples)])
    report.fds_max = max([report.fds_end, *(fds for _, _, fds in report.samples)])


def soak(args: argparse.Namespace) -> Report:
    workdir = Path(tempfile.mkdtemp(prefix="edgeface-soak-"))
    report = Report(minutes=args.minutes, flap_seconds=args.flap_seconds)
    broker = Broker(workdir)
    broker.start()
    config = write_config(workdir, broker.port, args)
    settings = yaml.safe_load(config.read_text())
    edgeface = [sys.executable, "-m", "edgeface", "--config", str(config)]
    enroll = [*edgeface, "enroll", "--from-dir", str(ROOT / "config" / "demo" / "faces")]
    subprocess.run(enroll, check=True, stdout=subprocess.DEVNULL)
    subscriber = Subscriber(broker.port, f"edgeface/{settings['device_id']}/event")
    log_path = workdir / "daemon.log"
    with log_path.open("w") as log_file:
        daemon = subprocess.Popen([*edgeface, "-v", "run"], stderr=log_file, stdout=subprocess.DEVNULL, cwd=ROOT)
        started = time.monotonic()
        try:
            drive(daemon, broker, report, args)
            finish(daemon, Path(settings["state_dir"]) / "outbox.db", report, started)
        finally:
            if daemon.poll() is None:
                daemon.kill()
            subscriber.close()
            broker.stop()
    summarise(report, log_path.read_text().splitlines(), subscriber)
    if args.keep:
        print(f"work directory kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run the daemon (default 10)")
    parser.add_argument("--flap-seconds", type=float, default=20.0, help="broker up this long between outages")
    parser.add_argument("--outage-seconds", type=float, default=3.0, help="how long each outage lasts")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the first RSS/fd sample")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS/fd sampling period")
    parser.add_argument("--clip", type=Path, default=ROOT / "config" / "demo" / "hamilton_clip.mp4")
    parser.add_argument("--fps", type=float, default=30.0, help="camera frame rate (the clip's own is 29.97)")
    parser.add_argument("--cooldown", type=float, default=1.0, help="decide cooldowns, so events keep coming")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (daemon log, state)")
    args = parser.parse_args()
    report = soak(args)
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        for key, value in asdict(report).items():
            if key != "samples":
                print(f"{key:<34} {value}")
    ok = report.events_lost == 0 and report.daemon_exit == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
