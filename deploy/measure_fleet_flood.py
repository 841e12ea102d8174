#!/usr/bin/env python3
"""What a door's fleet agent pays for records anyone on the broker can publish: one huge, or thousands forged.

Starts a private mosquitto (its default limits: a message may be up to 256 MiB) and a child process
holding edgeface's FleetSync as a door of site ``flood``; then retains ``--mib`` MiB on
``people/huge`` and ``--forged`` unsigned records on ``people/forged<i>``, and waits until the door
has counted the forged ones as refused. Prints the child's peak RSS before and after, whether the huge
record reached the door, and how many WARNING lines the door logged. The child imports edgeface from
``$PYTHONPATH`` if set (e.g. a worktree of an older commit, to measure "before"), else from this checkout.

    python deploy/measure_fleet_flood.py --mib 200 --forged 10000 [--json]
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
    import logging, resource, sys, time
    from pathlib import Path
    from edgeface.config import Config, FleetConfig, MqttConfig
    from edgeface.mqtt.fleetsync import FleetSync

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
    port, state, forged = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    cfg = Config(
        device_id="flooded",
        state_dir=state,
        mqtt=MqttConfig(host="127.0.0.1", port=port),
        fleet=FleetConfig(enabled=True, site="flood", key="measure-key-0123456789"),
    )
    with FleetSync(cfg, None) as sync:
        assert sync.wait_synced(30)
        print("ready", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
        sys.stdin.readline()  # everything is published
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and sync.status().refused < forged:
            time.sleep(0.2)
        print("done", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sync.status().refused, flush=True)
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200, help="size of the huge record in MiB (0: none)")
    parser.add_argument("--forged", type=int, default=10_000, help="how many forged records")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker, port = start_mosquitto(work)
        time.sleep(0.5)
        (work / "state").mkdir(mode=0o700)
        # Not run from here: "python -c" would put the working directory, this checkout, first on sys.path.
        env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(port), str(work / "state"), str(args.forged)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(work / "door.log", "w"),  # noqa: SIM115 closed with the directory
            text=True,
            cwd=work,
            env=env,
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            ready = child.stdout.readline().split()
            sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood-sender")
            sender.connect("127.0.0.1", port)
            sender.loop_start()
            started = time.monotonic()
            infos = []
            if args.mib:
                huge = b'"' + b"x" * (args.mib * 1024 * 1024 - 2) + b'"'
                infos.append(sender.publish("edgeface/fleet/flood/people/huge", huge, qos=1, retain=True))
            for i in range(args.forged):
                topic = f"edgeface/fleet/flood/people/forged{i}"
                infos.append(sender.publish(topic, b'{"sig": "00"}', qos=1, retain=True))
            for info in infos:
                info.wait_for_publish(120)
            child.stdin.write("go\n")
            child.stdin.flush()
            done = child.stdout.readline().split()
            seconds = time.monotonic() - started
            sender.disconnect()
        finally:
            for process in (child, broker):
                process.kill()
                process.wait()
        warnings = (work / "door.log").read_text(errors="replace").splitlines()
    refused = int(done[2]) if done[:1] == ["done"] else None
    result = {
        "huge_mib": args.mib,
        "forged": args.forged,
        "peak_rss_before_mib": round(int(ready[1]) / 1024, 1),
        "peak_rss_after_mib": round(int(done[1]) / 1024, 1) if done[:1] == ["done"] else None,
        "refused": refused,
        "huge_one_reached_the_door": refused is not None and refused > args.forged,
        "warning_lines": sum(line.startswith("WARNING") for line in warnings),
        "warning_bytes": sum(len(line) + 1 for line in warnings if line.startswith("WARNING")),
        "seconds": round(seconds, 1),
    }
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
