"""Access rules: which doors let a person in, and when, read without touching any template.

A person has at most one rule row (``access_rules``, keyed by person, so removing the person drops
it): ``doors``, the device ids of the doors that let them in (None: every door), and ``schedule``,
the windows in which those doors do (None: always; a door's own ``decide.schedules`` still applies).
Both are JSON in the row. Functions on an open connection of the store's file
(:mod:`edgeface.storage.storefile`); the :class:`~edgeface.storage.people.Store` runs them in its
transactions, and a change of rules is a new version of the person (:mod:`edgeface.storage.versions`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from edgeface.config import Window

__all__ = ["AccessRule", "read_rules", "windows_at", "write_rule"]


@dataclass(frozen=True)
class AccessRule:
    doors: tuple[str, ...] | None = None
    """Device ids of the doors that let this person in; None: every door."""
    schedule: tuple[Window, ...] | None = None
    """When those doors let them in; None: always."""

    def windows_at(self, device_id: str) -> list[Window] | None:
        """The windows in which door ``device_id`` lets the person in: [] never, None without restriction."""
        if self.doors is not None and device_id not in self.doors:
            return []
        return list(self.schedule) if self.schedule is not None else None


def write_rule(db: sqlite3.Connection, person_id: int, rule: AccessRule) -> None:
    """Make ``rule`` the person's rule (no row at all when it restricts nothing)."""
    if rule.doors is None and rule.schedule is None:
        db.execute("DELETE FROM access_rules WHERE person_id = ?", (person_id,))
        return
    db.execute(
        "INSERT OR REPLACE INTO access_rules(person_id, doors, schedule) VALUES (?, ?, ?)",
        (
            person_id,
            json.dumps(list(rule.doors)) if rule.doors is not None else None,
            json.dumps([w.model_dump(mode="json") for w in rule.schedule]) if rule.schedule is not None else None,
        ),
    )


def read_rules(db: sqlite3.Connection) -> dict[str, AccessRule]:
    """Name → rule of every enrolled person who has one."""
    rows = db.execute(
        "SELECT p.name, r.doors, r.schedule FROM access_rules r JOIN people p ON p.id = r.person_id"
    ).fetchall()
    return {
        name: AccessRule(
            tuple(json.loads(doors)) if doors is not None else None,
            tuple(Window.model_validate(w) for w in json.loads(schedule)) if schedule is not None else None,
        )
        for name, doors, schedule in rows
    }


def windows_at(db: sqlite3.Connection, device_id: str) -> dict[str, list[Window]]:
    """The windows in which door ``device_id`` lets each restricted person in (none at all: never)."""
    return {
        name: windows for name, rule in read_rules(db).items() if (windows := rule.windows_at(device_id)) is not None
    }
