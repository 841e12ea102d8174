#!/usr/bin/env python3
"""Peak memory of a door's MQTT client when someone publishes a huge payload to its cmd/unlock.

Starts a private mosquitto (its default limits: a message may be up to 256 MiB), a child process
holding edgeface's MqttPublisher with remote unlock on, publishes ``--mib`` MiB to the child's
``cmd/unlock`` and then one small valid unlock, and prints the child's peak RSS before and after.
The small unlock arriving shows the child lived through it; the peak shows what the big one cost.
The child imports edgeface from ``$PYTHONPATH`` if set (e.g. a worktree of an older commit, to
measure "before"), else from this checkout.

    python deploy/measure_big_command.py --mib 250 [--json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from localbroker import start_mosquitto  # beside this file
from paho.mqtt.enums import CallbackAPIVersion
from report import print_result  # beside this file

ROOT = Path(__file__).resolve().parents[1]
CHILD = textwrap.dedent(
    """
    import resource, sys, time
    from pathlib import Path
    from edgeface.config import MqttConfig, RemoteUnlockConfig
    from edgeface.mqtt.client import MqttPublisher
    from edgeface.storage.outbox import Outbox

    port, state = int(sys.argv[1]), Path(sys.argv[2])
    cfg = MqttConfig(host="127.0.0.1", port=port, remote_unlock=RemoteUnlockConfig(enabled=True))
    with Outbox(state / "outbox.db", 100) as outbox, MqttPublisher(cfg, outbox, device_id="big") as publisher:
        assert publisher.wait_connected(10)
        print("ready", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not publisher.commands(timeout=0.2):
            pass
        print("done", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, publisher.inbox.dropped, flush=True)
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=250, help="size of the big payload in MiB")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker, port = start_mosquitto(work)
        (work / "state").mkdir(mode=0o700)
        # Not run from here: "python -c" would put the working directory, this checkout, first on sys.path.
        env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(port), str(work / "state")],
            stdout=subprocess.PIPE,
            text=True,
            cwd=work,
            env=env,
        )
        try:
            assert child.stdout is not None
            ready = child.stdout.readline().split()
            sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="big-sender")
            sender.connect("127.0.0.1", port)
            sender.loop_start()
            started = time.monotonic()
            big = sender.publish("edgeface/big/cmd/unlock", b"x" * (args.mib * 1024 * 1024), qos=1)
            big.wait_for_publish(120)
            assert big.is_published(), "the broker did not take the big message"
            sender.publish("edgeface/big/cmd/unlock", b'{"seconds": 1}', qos=1).wait_for_publish(10)
            done = child.stdout.readline().split()
            seconds = time.monotonic() - started
            sender.disconnect()
            sender.loop_stop()
        finally:
            child.kill()
            broker.terminate()
            broker.wait()
    result = {
        "payload_mib": args.mib,
        "peak_rss_before_mib": round(int(ready[1]) / 1024, 1),
        "peak_rss_after_mib": round(int(done[1]) / 1024, 1) if done[:1] == ["done"] else None,
        "small_unlock_arrived": done[:1] == ["done"],
        "big_one_reached_the_parser": done[2:3] == ["1"],
        "seconds": round(seconds, 1),
    }
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
