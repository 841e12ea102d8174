"""Record versions in the people store: every local change is a new version, and the newer copy wins.

What :mod:`edgeface.storage.records` describes, on the store's file: ``person_versions`` holds one
row per name, a person or the tombstone of a removed one (keyed by name, not by person, so a
tombstone outlives the person it removed). Functions on an open connection; the
:class:`~edgeface.storage.people.Store` runs them inside its transactions, so a change and its
new version commit together.
"""

from __future__ import annotations

import sqlite3

from edgeface.storage.records import Outcome, PersonRecord, TemplateRecord, next_version
from edgeface.storage.rules import AccessRule, read_rules, write_rule
from edgeface.storage.templates import insert_template, vector_of

__all__ = ["apply_record", "bump", "fleet_people", "held_versions", "read_records", "withheld", "withhold"]


def bump(db: sqlite3.Connection, name: str, now: float, *, deleted: bool = False) -> None:
    """Give ``name`` its next version after a local change (``deleted``: it was removed)."""
    row = db.execute("SELECT version FROM person_versions WHERE name = ?", (name,)).fetchone()
    version = next_version(int(row[0]) if row else 0, now)
    db.execute(
        "INSERT INTO person_versions(name, version, updated, deleted, origin) VALUES (?, ?, ?, ?, 'local') "
        "ON CONFLICT(name) DO UPDATE SET version = excluded.version, updated = excluded.updated, "
        "deleted = excluded.deleted, origin = 'local', withheld = NULL",  # this device's own word stands
        (name, version, now, int(deleted)),
    )


def held_versions(db: sqlite3.Connection) -> dict[str, int]:
    """Name → version of every person and tombstone."""
    return dict(db.execute("SELECT name, version FROM person_versions").fetchall())


def read_records(db: sqlite3.Connection, names: list[str] | None = None) -> list[PersonRecord]:
    """Every person and tombstone (or those of ``names`` that exist) as records, with all their templates."""
    wanted = set(names) if names is not None else None
    rows = [
        row
        for row in db.execute("SELECT name, version, updated, deleted FROM person_versions ORDER BY name")
        if wanted is None or row[0] in wanted
    ]
    templates: dict[str, list[TemplateRecord]] = {}
    for name, model, sha, blob, photo in db.execute(
        "SELECT p.name, t.model, t.model_sha256, t.vector, t.photo_sha256 FROM templates t "
        "JOIN people p ON p.id = t.person_id ORDER BY t.id"
    ):
        if wanted is None or name in wanted:
            templates.setdefault(name, []).append(TemplateRecord(model, sha, vector_of(blob), photo))
    rules = read_rules(db)
    return [
        PersonRecord(
            name,
            version,
            updated,
            bool(deleted),
            tuple(templates.get(name, ())),
            rules.get(name, AccessRule()).doors,
            rules.get(name, AccessRule()).schedule,
        )
        for name, version, updated, deleted in rows
    ]


def apply_record(db: sqlite3.Connection, record: PersonRecord, origin: str) -> Outcome:
    """Take ``record`` if it is newer than what the store holds for its name: the person as the record has them."""
    name = record.name
    row = db.execute("SELECT version FROM person_versions WHERE name = ?", (name,)).fetchone()
    held = int(row[0]) if row else 0
    if record.version < held:
        return Outcome.STALE
    if record.version == held:
        return Outcome.UNCHANGED
    db.execute("DELETE FROM people WHERE name = ?", (name,))  # with their templates, images and rules
    if not record.deleted:
        cur = db.execute("INSERT INTO people(name, created) VALUES (?, ?)", (name, record.updated))
        person_id = int(cur.lastrowid or 0)
        for t in record.templates:
            insert_template(
                db,
                person_id,
                (t.model, t.model_sha256),
                t.vector,
                source=origin,
                photo_sha256=t.photo_sha256,
                created=record.updated,
            )
        write_rule(db, person_id, AccessRule(record.doors, record.schedule))
    db.execute(
        "INSERT OR REPLACE INTO person_versions(name, version, updated, deleted, origin) VALUES (?, ?, ?, ?, ?)",
        (name, record.version, record.updated, int(record.deleted), origin),
    )
    return Outcome.APPLIED


def withhold(db: sqlite3.Connection, reasons: dict[str, str], confirmed: set[str]) -> tuple[list[str], list[str]]:
    """Withhold the people of ``reasons`` (name → why) and release those ``confirmed``; the names it changed.

    Only people taken from the fleet and still held can be withheld: a local enrolment is this device's own
    word, and a tombstone lets no one in anyway. Applying a newer record of a person releases them too.
    """
    released = [
        name
        for name in sorted(confirmed - set(reasons))
        if db.execute(
            "UPDATE person_versions SET withheld = NULL WHERE name = ? AND withheld IS NOT NULL", (name,)
        ).rowcount
    ]
    held = [
        name
        for name, reason in sorted(reasons.items())
        if db.execute(
            "UPDATE person_versions SET withheld = ? "
            "WHERE name = ? AND origin = 'fleet' AND NOT deleted AND withheld IS NULL",
            (reason, name),
        ).rowcount
    ]
    return held, released


def withheld(db: sqlite3.Connection) -> dict[str, str]:
    """Name → why, of the people withheld from the gallery."""
    return dict(db.execute("SELECT name, withheld FROM person_versions WHERE withheld IS NOT NULL").fetchall())


def fleet_people(db: sqlite3.Connection) -> set[str]:
    """The people held because the fleet sent their record (not removed, not enrolled here since)."""
    return {name for (name,) in db.execute("SELECT name FROM person_versions WHERE origin = 'fleet' AND NOT deleted")}
