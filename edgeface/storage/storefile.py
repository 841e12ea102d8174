"""The people store's file (``people.db``): the history of its schema, one step per version.

One SQLite file holds who may enter and who did, so that one backup keeps both: people, their
templates and face crops (:mod:`edgeface.storage.people`), the audit log (:mod:`edgeface.storage.audit`),
the fleet's record versions (:mod:`edgeface.storage.versions`) and access rules
(:mod:`edgeface.storage.rules`). One ``user_version`` describes the whole file, so its steps are one
ordered list, kept here rather than beside each table: the store and the audit log both open the
file, and whichever opens an older file first migrates all of it (:class:`~edgeface.storage.sqlite.Schema`).

To change a table, append a step; a released step stays as it is, because files out there were made by it.
"""

from __future__ import annotations

from edgeface.storage.sqlite import Schema

__all__ = ["SCHEMA"]

_V1_PEOPLE = """
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    source TEXT,
    photo_sha256 TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_model ON templates(model_sha256);
CREATE UNIQUE INDEX IF NOT EXISTS templates_photo ON templates(person_id, model_sha256, photo_sha256);
CREATE TABLE IF NOT EXISTS face_images (
    template_id INTEGER PRIMARY KEY REFERENCES templates(id) ON DELETE CASCADE,
    jpeg BLOB NOT NULL,
    created REAL NOT NULL
);
"""
# Before v2 the audit log made its table itself, unversioned: IF NOT EXISTS keeps the entries of such a file.
_V2_AUDIT = """
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    epoch REAL NOT NULL,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    person TEXT,
    similarity REAL NOT NULL,
    frames INTEGER NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS audit_epoch ON audit(epoch);
"""
# Keyed by name, not by person: a tombstone outlives the person it removed. People enrolled before
# versions existed get the time of their enrolment as version, so the later of two enrolments wins.
_V3_VERSIONS = """
CREATE TABLE person_versions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated REAL NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    doors TEXT,
    schedule TEXT,
    origin TEXT NOT NULL
);
INSERT INTO person_versions(name, version, updated, origin)
    SELECT name, CAST(created * 1000 AS INTEGER), created, 'local' FROM people;
"""
# Access rules leave the versions table for their own, so the door reads them without the fleet's
# bookkeeping. Keyed by person: removing someone drops their rules with them. The versions table is
# rebuilt without the two columns (SQLite's DROP COLUMN is newer than some doors' SQLite, 3.31).
_V4_ACCESS_RULES = """
CREATE TABLE access_rules (
    person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    doors TEXT,
    schedule TEXT
);
INSERT INTO access_rules(person_id, doors, schedule)
    SELECT p.id, v.doors, v.schedule FROM person_versions v JOIN people p ON p.name = v.name
    WHERE NOT v.deleted AND (v.doors IS NOT NULL OR v.schedule IS NOT NULL);
CREATE TABLE person_versions_v4 (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated REAL NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL
);
INSERT INTO person_versions_v4(name, version, updated, deleted, origin)
    SELECT name, version, updated, deleted, origin FROM person_versions;
DROP TABLE person_versions;
ALTER TABLE person_versions_v4 RENAME TO person_versions;
"""

# Why a person taken from the fleet is kept out of the gallery until the fleet confirms them (NULL: they are not).
_V5_WITHHELD = "ALTER TABLE person_versions ADD COLUMN withheld TEXT;"

# How good the face of each template was (vision.quality.face_quality, 0–1); NULL for templates made before,
# and for those taken from the fleet (a record carries none).
_V6_TEMPLATE_QUALITY = "ALTER TABLE templates ADD COLUMN quality REAL;"

SCHEMA = Schema("store", (_V1_PEOPLE, _V2_AUDIT, _V3_VERSIONS, _V4_ACCESS_RULES, _V5_WITHHELD, _V6_TEMPLATE_QUALITY))
"""v1 people, templates and face images; v2 the audit log; v3 record versions; v4 access rules in their own table;
v5 fleet-sourced people withheld from the gallery; v6 each template's face quality."""
