"""What a reload (SIGHUP) can change in a running daemon, and what only a restart can.

Each live part of the daemon (:class:`LivePart`: the frame pipeline, the door controller, the event
recorder, the loop itself) declares the config keys it takes on while running (``RELOADS``) and
applies them itself (``apply``); the reload plan is built from those declarations
(:func:`live_keys`), so there is no second list to drift from what the parts really do.

:func:`plan_reload` compares the running config with the one just loaded, key by key. Each changed
key either lies under a live key — those take effect at once — or is named in the single warning the
daemon logs, so a change is never silently ignored. The config the daemon then runs with is the
running one with only the live changes applied: a changed ``device_id`` or ``camera.fps`` keeps its
old value until the restart, rather than half applying.

Every reload also announces the door to Home Assistant again, changed or not: that is how an owner
gets back entities deleted in Home Assistant without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from edgeface.config import Config, load_config
from edgeface.errors import EdgefaceError

log = logging.getLogger(__name__)


class LivePart(Protocol):
    """A part of the running daemon that takes on some config keys (and everything under them) on reload."""

    RELOADS: ClassVar[tuple[str, ...]]

    def apply(self, cfg: Config) -> None:
        """Run with the live keys of ``cfg`` from now on."""
        ...


def live_keys(parts: Iterable[LivePart]) -> tuple[str, ...]:
    """Every key the parts reload, each once."""
    return tuple(dict.fromkeys(key for part in parts for key in part.RELOADS))


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


def _set(tree: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def plan_reload(running: Config, loaded: Config, live: Sequence[str]) -> ReloadPlan:
    """Split the differences between two configs into changes under the ``live`` keys and changes that need a
    restart."""
    old, new = _leaves(running.model_dump()), _leaves(loaded.model_dump())
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    applied = tuple(k for k in changed if any(_is_under(k, section) for section in live))
    need_restart = tuple(k for k in changed if k not in applied)
    if not applied:
        return ReloadPlan(running, (), need_restart)
    merged, wanted = running.model_dump(), loaded.model_dump()
    for section in live:
        # A whole live section is taken as loaded, so keys that appeared or vanished (a schedule) follow too.
        if any(_is_under(key, section) for key in applied):
            _set(merged, section, _get(wanted, section))
    return ReloadPlan(Config.model_validate(merged), applied, need_restart)


def _get(tree: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree[part]
    return tree


def reload_config(running: Config, path: Path | None, parts: Sequence[LivePart], people: Callable[[], None]) -> None:
    """SIGHUP: re-read the config file and (``people()``) the people store; each part takes on its live changes,
    the rest is named in one warning. A file that will not load, or a store that cannot be read, changes nothing."""
    try:
        plan = plan_reload(running, load_config(path), live_keys(parts))
        people()
    except EdgefaceError as exc:
        log.error("reload refused, keeping the running config: %s", exc)
        return
    if plan.need_restart:
        log.warning("reload: changes to %s take effect after a restart", ", ".join(plan.need_restart))
    for part in parts:
        part.apply(plan.config)
    applied = f" (applied: {', '.join(plan.applied)})" if plan.applied else ""
    log.info("reloaded %s%s", path or "the embedded defaults", applied)
