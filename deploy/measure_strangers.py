#!/usr/bin/env python3
"""How many stranger events a door publishes on the demo clip, and how many decisions they sum up.

Starts a private mosquitto and ``edgeface run`` (defaults but for the camera, the demo faces
enrolled) on the demo clip, looped, for ``--minutes``; a subscriber counts the ``unknown`` events
and adds up their ``suppressed`` counts (the stranger decisions folded into them). The daemon
imports edgeface from ``$PYTHONPATH`` if set (e.g. an export of an older commit, to measure
"before"), else from this checkout.

    python deploy/measure_strangers.py --minutes 10 [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from localbroker import start_mosquitto  # beside this file
from paho.mqtt.enums import CallbackAPIVersion
from report import print_result  # beside this file

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "config" / "demo" / "hamilton_clip.mp4"
FACES = ROOT / "config" / "demo" / "faces"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the door watches the clip")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    events: list[dict[str, object]] = []
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            events.append(json.loads(message.payload))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker, port = start_mosquitto(work)
        config = work / "edgeface.yaml"
        settings = {
            "device_id": "strangers",
            "models_dir": str(ROOT / "models"),
            "state_dir": str(work / "state"),
            "camera": {"path": str(CLIP), "loop": True},
            "relay": {"pin_factory": "mock"},
            "mqtt": {"host": "127.0.0.1", "port": port},
        }
        config.write_text(yaml.safe_dump(settings))
        env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
        edgeface = [sys.executable, "-m", "edgeface", "--config", str(config)]
        # Run from the temporary directory: "python -m" would put the working directory first on sys.path.
        subprocess.run(
            [*edgeface, "enroll", "--from-dir", str(FACES)], env=env, cwd=work, check=True, capture_output=True
        )
        watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
        watcher.on_message = on_message
        watcher.connect("127.0.0.1", port)
        watcher.subscribe("edgeface/strangers/event", qos=1)
        watcher.loop_start()
        daemon = subprocess.Popen([*edgeface, "run"], stderr=subprocess.DEVNULL, env=env, cwd=work)
        try:
            time.sleep(args.minutes * 60)
            daemon.terminate()
            daemon.wait(30)
            time.sleep(1)
        finally:
            daemon.kill()
            watcher.loop_stop()
            broker.terminate()
            broker.wait()
    with lock:
        unknown = [e for e in events if e["type"] == "unknown"]
    folded = sum(int(str(e.get("suppressed", 0))) for e in unknown)
    result = {
        "minutes": args.minutes,
        "events": len(events),
        "unknown_events": len(unknown),
        "unknown_per_minute": round(len(unknown) / args.minutes, 1),
        "stranger_decisions_folded_into_them": folded,
        "granted_events": sum(e["type"] == "granted" for e in events),
    }
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
