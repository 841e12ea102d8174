"""Template rows: one face vector of one person, tagged with the model that made it.

The one place a template is written or read back as a vector, for local enrolment
(:class:`~edgeface.storage.people.Store`) and for records from the fleet
(:mod:`edgeface.storage.versions`) alike. Vectors are float32 rows in a BLOB; a person never has
the same photo (``photo_sha256``) twice for one model, so enrolling a folder twice is harmless.
Functions on an open connection of the store's file, run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from edgeface.values import Vectors

__all__ = ["ModelId", "insert_template", "vector_of"]

ModelId = tuple[str, str]
"""An embedding model's identity: profile name and the model file's SHA-256."""


def insert_template(
    db: sqlite3.Connection,
    person_id: int,
    model: ModelId,
    vector: Vectors,
    *,
    source: str | None,
    photo_sha256: str | None,
    created: float,
    quality: float | None = None,
) -> int | None:
    """Add one template for the person; its id, or None when that photo is already enrolled for this model."""
    vec = np.asarray(vector, np.float32).reshape(-1)
    cur = db.execute(
        "INSERT OR IGNORE INTO templates"
        "(person_id, model, model_sha256, dim, vector, source, photo_sha256, created, quality) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (person_id, model[0], model[1], vec.size, vec.tobytes(), source, photo_sha256, created, quality),
    )
    return int(cur.lastrowid or 0) if cur.rowcount else None


def vector_of(blob: bytes) -> Vectors:
    """A stored template's vector (one float32 row)."""
    return np.frombuffer(blob, np.float32)
