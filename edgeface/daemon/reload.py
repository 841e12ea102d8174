"""What a reload (SIGHUP) can change in a running daemon, and what only a restart can.

:func:`plan_reload` compares the running config with the one just loaded, key by key. Each changed
key either lies under one of :data:`LIVE` — those take effect at once — or is named in the single
warning the daemon logs, so a change is never silently ignored. The config the daemon then runs
with is the running one with only the live changes applied: a changed ``device_id`` or
``camera.fps`` keeps its old value until the restart, rather than half applying.

Every reload also announces the door to Home Assistant again (:meth:`edgeface.daemon.loop.Service.announce`),
changed or not: that is how an owner gets back entities deleted in Home Assistant without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeface.config import Config

LIVE: tuple[str, ...] = (
    "match",
    "quality",
    "decide",
    "daemon.decisions_per_minute",
    "mqtt.remote_unlock.per_minute",
    "mqtt.discovery",
    "mqtt.snapshot",
    "relay.pulse_seconds",
    "store.image_retention_days",
    "store.audit_retention_days",
)
"""Config keys (and everything under them) that the running daemon re-reads on reload."""


@dataclass(frozen=True)
class ReloadPlan:
    config: Config
    """The config now in force: the running one with every live change applied."""
    applied: tuple[str, ...]
    """Changed keys that took effect."""
    need_restart: tuple[str, ...]
    """Changed keys that wait for a restart."""


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key → value for every leaf; an empty mapping (no schedules) has none."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def _is_under(key: str, section: str) -> bool:
    return key == section or key.startswith(f"{section}.")


def _is_live(key: str) -> bool:
    return any(_is_under(key, live) for live in LIVE)


def _set(tree: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def plan_reload(running: Config, loaded: Config) -> ReloadPlan:
    """Split the differences between two configs into live changes and changes that need a restart."""
    old, new = _leaves(running.model_dump()), _leaves(loaded.model_dump())
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    applied = tuple(k for k in changed if _is_live(k))
    need_restart = tuple(k for k in changed if not _is_live(k))
    if not applied:
        return ReloadPlan(running, (), need_restart)
    merged, wanted = running.model_dump(), loaded.model_dump()
    for section in LIVE:
        # A whole live section is taken as loaded, so keys that appeared or vanished (a schedule) follow too.
        if any(_is_under(key, section) for key in applied):
            _set(merged, section, _get(wanted, section))
    return ReloadPlan(Config.model_validate(merged), applied, need_restart)


def _get(tree: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree[part]
    return tree
