"""The fleet at scale: push N people to D real door daemons and measure time to sync and memory per door.

A benchmark, not a test: ``python -m tests.support.fleet_bench --people 1000 --doors 3``. It starts
its own mosquitto, gives the admin's store N people with T templates each (random unit vectors tagged
with the embedder the doors run, so the doors load them into their galleries), starts D daemons
watching an empty room, pushes, and reports per door: seconds from the start of the push until its
retained status holds the admin's digest, until its gallery was reloaded with everyone, and how much
its resident memory and its store file grew.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeface.config import load_config
from edgeface.models.checksums import file_sha256
from edgeface.mqtt.fleet import digest
from edgeface.ops.fleet import push
from edgeface.storage.people import Store
from tests.support.broker import Broker, Collector
from tests.support.fleet import admin_config, door_config, door_status, fresh_site
from tests.support.process import DaemonProcess
from tests.support.scenes import empty_scene
from tests.support.timing import wait_until


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--templates", type=int, default=5)
    parser.add_argument("--doors", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "broker").mkdir()
        broker = Broker(root / "broker")
        broker.start()
        try:
            report = run(root, broker, args.people, args.templates, args.doors)
        finally:
            broker.stop()
    print(json.dumps(report, indent=2))


def run(root: Path, broker: Broker, people: int, templates: int, doors: int) -> dict[str, object]:
    site = fresh_site()
    admin_path = admin_config(root / "admin", broker, site)
    admin = load_config(admin_path)
    model = (admin.profile.name, file_sha256(admin.model_path(admin.profile.model)))
    rng = np.random.default_rng(0)
    with Store(admin.store_path) as store:
        for i in range(people):
            vectors = rng.normal(size=(templates, admin.profile.output_dim)).astype(np.float32)
            for v in vectors / np.linalg.norm(vectors, axis=1, keepdims=True):
                store.add_template(f"person{i:05d}", v, model)
        target = digest(store.versions())
    camera = empty_scene(root / "camera")
    configs = [door_config(root / f"door{i}", broker, site, camera) for i in range(doors)]
    procs = [DaemonProcess(c, verbose=True) for c in configs]
    devices = [p.settings["device_id"] for p in procs]
    try:
        with Collector(broker, [f"edgeface/fleet/{site}/doors/+"]) as watch:
            for proc in procs:
                proc.wait_for(r"fleet: 0 people, 0 records", 120)
            time.sleep(2.0)  # let the daemons settle before the baseline
            before = [rss_kib(p.pid) for p in procs]
            store_before = [(c.parent / "state" / "people.db").stat().st_size for c in configs]
            started = time.monotonic()
            push(admin, [])
            pushed = time.monotonic() - started
            synced: dict[str, float] = {}

            def all_synced() -> bool:
                for device in devices:
                    if device not in synced and (door_status(watch, site, device) or {}).get("digest") == target:
                        synced[device] = time.monotonic() - started
                return len(synced) == len(devices)

            wait_until(all_synced, 600, "every door to hold the admin's records")
            loaded = []
            for proc in procs:
                proc.wait_for(rf"people store: {people} people", 120)
                loaded.append(time.monotonic() - started)
            time.sleep(2.0)
            after = [rss_kib(p.pid) for p in procs]
            store_after = [(c.parent / "state" / "people.db").stat().st_size for c in configs]
    finally:
        for proc in procs:
            proc.terminate()
    return {
        "people": people,
        "templates_per_person": templates,
        "doors": doors,
        "push_seconds": round(pushed, 2),
        "per_door": [
            {
                "device": device,
                "synced_seconds": round(synced[device], 2),
                "gallery_loaded_seconds": round(t, 2),
                "rss_before_mib": round(b / 1024, 1),
                "rss_added_mib": round((a - b) / 1024, 1),
                "store_added_mib": round((sa - sb) / 2**20, 1),
            }
            for device, t, b, a, sb, sa in zip(devices, loaded, before, after, store_before, store_after, strict=True)
        ],
    }


if __name__ == "__main__":
    main()
