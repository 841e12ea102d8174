#!/usr/bin/env python3
"""What a door at the default log level writes for a flood of invalid commands, and whether it logs decisions.

Starts a private mosquitto and ``edgeface run`` (no ``-v``, as systemd runs it) watching a stranger,
publishes ``--count`` invalid payloads to its ``cmd/unlock`` (QoS 0, as fast as one client can),
stops the daemon and counts its log lines: the warnings about dropped commands, and the
``decision type=...`` lines. The daemon imports edgeface from ``$PYTHONPATH`` if set (e.g. a
worktree of an older commit, to measure "before"), else from this checkout.

    python deploy/measure_command_flood.py --count 12000 [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from localbroker import start_mosquitto  # beside this file
from paho.mqtt.enums import CallbackAPIVersion
from report import print_result  # beside this file

ROOT = Path(__file__).resolve().parents[1]
STRANGER = ROOT / "config" / "demo" / "faces" / "alex_lacamoire.jpg"
"""Nobody is enrolled in the fresh state directory, so this face is decided ``unknown``."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12_000, help="invalid payloads to publish")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker, port = start_mosquitto(work)
        camera = work / "camera"
        camera.mkdir()
        for i in range(3):
            shutil.copy(STRANGER, camera / f"{i}.jpg")
        config = work / "edgeface.yaml"
        settings = {
            "device_id": "flood",
            "models_dir": str(ROOT / "models"),
            "state_dir": str(work / "state"),
            "camera": {"path": str(camera), "fps": 10},
            "relay": {"pin_factory": "mock"},
            "mqtt": {"host": "127.0.0.1", "port": port, "remote_unlock": {"enabled": True}},
        }
        config.write_text(yaml.safe_dump(settings))
        env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
        command = [sys.executable, "-m", "edgeface", "--config", str(config), "run"]
        # Run from the temporary directory: "python -m" would put the working directory first on sys.path.
        daemon = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, cwd=work)
        try:
            time.sleep(8)  # models loaded, connected, subscribed
            sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flooder")
            sender.connect("127.0.0.1", port)
            sender.loop_start()
            started = time.monotonic()
            for _ in range(args.count):
                sender.publish("edgeface/flood/cmd/unlock", b'{"seconds": "x"}', qos=0)
            sender.publish("edgeface/flood/cmd/unlock", b'{"seconds": "x"}', qos=1).wait_for_publish(30)
            sending = time.monotonic() - started
            time.sleep(3)
            sender.disconnect()
            sender.loop_stop()
            daemon.terminate()
            _, log = daemon.communicate(timeout=30)
        finally:
            daemon.kill()
            broker.terminate()
            broker.wait()
    lines = log.splitlines()
    result = {
        "payloads": args.count + 1,
        "seconds_sending": round(sending, 1),
        "log_lines": len(lines),
        "dropped_command_warnings": sum("ignoring MQTT command" in line for line in lines),
        "decision_lines": sum("decision type=" in line for line in lines),
    }
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
