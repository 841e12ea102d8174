"""Fleet sites for tests: a site of its own per test, its admin's and doors' configs, and reading its topics."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.support.broker import Broker, Collector, fresh_device_id
from tests.support.configs import mqtt_section, write_config

KEY = "fleet-test-key-0123456789"
"""The test sites' key (a real site's is a random secret of at least 16 characters)."""


DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
"""A record that makes a JSON parser recurse 100,000 deep: anyone can publish it, no key needed."""
HUGE_INT = b'{"version": ' + b"9" * 5_000 + b', "sig": "00"}'
"""A record whose integer is too long for Python to convert (more than 4,300 digits)."""


def fresh_site() -> str:
    """A site no test has used before: the session broker keeps retained records between tests."""
    return f"site{uuid.uuid4().hex[:8]}"


def fleet_section(site: str, role: str = "door", key: str = KEY) -> dict[str, Any]:
    return {"enabled": True, "site": site, "key": key, "role": role}


def admin_config(folder: Path, broker: Broker, site: str, **sections: Any) -> Path:
    """The config of the site's admin (the CLI that enrols and pushes), with a store of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(
        folder / "edgeface.yaml",
        device_id=fresh_device_id("admin"),
        mqtt=mqtt_section(broker),
        fleet=fleet_section(site, "admin"),
        **sections,
    )


def door_config(folder: Path, broker: Broker, site: str, camera: Path, **sections: Any) -> Path:
    """A door of the site watching the folder ``camera``, with an empty store; events repeat every second."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(
        folder / "edgeface.yaml",
        device_id=fresh_device_id("door"),
        mqtt=mqtt_section(broker),
        fleet=fleet_section(site),
        camera={"path": str(camera), "fps": 5},
        # Every stranger decision reported: the tests count unknown events (a removed person is one again).
        decide={
            "cooldown_seconds": 1.0,
            "unknown_cooldown_seconds": 1.0,
            "stranger_cooldown_seconds": 0.0,
            "stranger_memory_seconds": 0.0,
        },
        # And acted on: the camera's photo has three faces, a decision on each every second, which would spend
        # the default budget (30 a minute) within a test and drop the very decisions the tests wait for.
        daemon={"decisions_per_minute": 600},
        **sections,
    )


def events(collector: Collector, device: str, kind: str, person: str | None = None) -> list[dict[str, Any]]:
    """The events of ``kind`` (for ``person``) that ``device`` published."""
    found = [json.loads(m.payload) for m in collector.messages(f"edgeface/{device}/event")]
    return [e for e in found if e["type"] == kind and (person is None or e["person"] == person)]


def door_status(collector: Collector, site: str, device: str) -> dict[str, Any] | None:
    """The latest status ``device`` announced on the site's retained status topic."""
    got = collector.messages(f"edgeface/fleet/{site}/doors/{device}")
    return json.loads(got[-1].payload) if got else None
