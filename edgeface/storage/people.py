"""The people store: enrolled people and their templates in one SQLite file.

Templates are tagged with the embedding model's identity (profile name and
file SHA-256); a gallery is only ever built from templates of the model in
use, because vectors of two different models are not comparable. The file
is created 0600 in a 0700 directory, in WAL mode so the daemon can read while
the CLI enrols.

Face crops (``face_images``) are biometric data: stored only with
``store.keep_images``, and then deleted by :meth:`Store.purge_images` once
older than the retention period. Deletion is real: ``secure_delete`` zeroes the
freed pages and the WAL is truncated afterwards, so no copy of a deleted crop
stays in the files.

A person's templates are added in one transaction (:meth:`Store.add_templates`): an enrolment that
is killed halfway leaves the person as they were, never with 1 of 7 photos. Names are normalised
(NFKC, outer spaces stripped) and a name that looks like an enrolled one (``Alice`` beside
``alice``, a Cyrillic ``а`` in ``аlice``) is refused, so a log line always names one person.

The store is the one way in to its file for everything but the audit log: people and templates
here, with :mod:`~edgeface.storage.templates` writing the rows; the fleet's record versions
(:mod:`~edgeface.storage.versions`) and access rules (:mod:`~edgeface.storage.rules`) run inside
the store's transactions, so a change and its new version commit together. The file's schema,
the audit log's table included, is :mod:`edgeface.storage.storefile`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from edgeface.config import Window
from edgeface.errors import StaleTemplatesError, StoreError
from edgeface.storage.names import check_name, lookalike_key
from edgeface.storage.records import Outcome, PersonRecord
from edgeface.storage.rules import AccessRule, windows_at, write_rule
from edgeface.storage.sqlite import Database
from edgeface.storage.storefile import SCHEMA
from edgeface.storage.templates import ModelId, insert_template, vector_of
from edgeface.storage.versions import (
    apply_record,
    bump,
    fleet_people,
    held_versions,
    read_records,
    withheld,
    withhold,
)
from edgeface.values import Vectors
from edgeface.vision.match import Gallery

if TYPE_CHECKING:
    from edgeface.vision.embed import Embedder

log = logging.getLogger(__name__)

__all__ = ["ModelId", "NewTemplate", "Person", "Store", "StoredTemplate"]


@dataclass(frozen=True)
class Person:
    name: str
    templates: int
    """Templates usable with the model the listing was made for."""
    other_templates: int
    """Templates made by other models (ignored until re-enrolment)."""
    created: float


@dataclass(frozen=True)
class NewTemplate:
    """One template to add: the vector, where it came from, and the face crop if images are kept."""

    vector: Vectors
    source: str | None = None
    photo_sha256: str | None = None
    jpeg: bytes | None = None
    quality: float | None = None
    """How good the face was (:func:`edgeface.vision.quality.face_quality`)."""


@dataclass(frozen=True)
class StoredTemplate:
    """One template as the store holds it, for ``people show``."""

    id: int
    created: float
    source: str | None
    """The photo's file name, ``camera <ts>``, or ``fleet`` for a template taken from the site's record."""
    photo_sha256: str | None
    quality: float | None
    model: ModelId
    vector: Vectors


class Store:
    """The SQLite people store. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path, *, keep_images: bool = False) -> None:
        self.path = path
        self.keep_images = keep_images
        # The daemon may open the store on one thread and run its loop on another; one thread uses it at a time.
        self._db = Database(path, SCHEMA, StoreError, name="people store", foreign_keys=True, secure_delete=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def add_template(
        self,
        name: str,
        vector: Vectors,
        model: ModelId,
        *,
        source: str | None = None,
        photo_sha256: str | None = None,
        jpeg: bytes | None = None,
    ) -> int | None:
        """Add one template for ``name`` (creating the person); returns the template id.

        Returns None, changing nothing, when this photo (by ``photo_sha256``) is
        already enrolled for this person and model, so enrolling a folder twice is harmless.
        """
        (added,) = self.add_templates(name, model, [NewTemplate(vector, source, photo_sha256, jpeg)])
        return added

    def add_templates(self, name: str, model: ModelId, templates: Sequence[NewTemplate]) -> list[int | None]:
        """Add a person's templates in one transaction: all of them or, if the process dies, none.

        ``name`` is normalised (:func:`check_name`) and refused when it looks like another enrolled name
        (:func:`lookalike_key`). Returns each template's id, None for a photo already enrolled.
        """
        name = check_name(name)
        now = time.time()
        ids: list[int | None] = []
        with self._db.transaction(f"add templates for {name!r}") as db:
            self._refuse_lookalike(db, name)
            db.execute("INSERT OR IGNORE INTO people(name, created) VALUES (?, ?)", (name, now))
            (person_id,) = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            for t in templates:
                added = insert_template(
                    db,
                    person_id,
                    model,
                    t.vector,
                    source=t.source,
                    photo_sha256=t.photo_sha256,
                    created=now,
                    quality=t.quality,
                )
                ids.append(added)
                # Face images are biometric data: kept only when the operator asked for them.
                if added is not None and self.keep_images and t.jpeg is not None:
                    db.execute(
                        "INSERT INTO face_images(template_id, jpeg, created) VALUES (?, ?, ?)", (added, t.jpeg, now)
                    )
            if any(i is not None for i in ids):
                bump(db, name, now)  # a new version of the person, for the fleet
        return ids

    def check_new_name(self, name: str) -> str:
        """The normalised name, if it may be enrolled: StoreError if unusable or a look-alike of another name."""
        name = check_name(name)
        with self._db.guard("read the names") as db:
            self._refuse_lookalike(db, name)
        return name

    @staticmethod
    def _refuse_lookalike(db: sqlite3.Connection, name: str) -> None:
        key = lookalike_key(name)
        for (other,) in db.execute("SELECT name FROM people WHERE name != ?", (name,)):
            if lookalike_key(unicodedata.normalize("NFKC", other).strip()) == key:
                raise StoreError(
                    f"{name!r} looks like the enrolled person {other!r}: enrol the same person under {other!r}, "
                    "or give a name that reads differently"
                )

    def remove_person(self, name: str) -> bool:
        """Delete a person with all their templates and images; False if there was no such person.

        The name is taken as given, else normalised as enrolment does (``"alice "`` removes ``alice``).
        """
        with self._db.transaction(f"remove {name!r}") as db:
            cur = db.execute("DELETE FROM people WHERE name = ?", (name,))
            if not cur.rowcount:
                name = unicodedata.normalize("NFKC", name).strip()
                cur = db.execute("DELETE FROM people WHERE name = ?", (name,))
            if cur.rowcount:
                bump(db, name, time.time(), deleted=True)  # their rules go with them (ON DELETE CASCADE)
        return cur.rowcount > 0

    def templates(self, name: str) -> list[StoredTemplate]:
        """``name``'s templates, oldest first; StoreError if nobody is called that."""
        with self._db.guard(f"read the templates of {name!r}") as db:
            if db.execute("SELECT 1 FROM people WHERE name = ?", (name,)).fetchone() is None:
                raise StoreError(f"no enrolled person called {name!r}")
            rows = db.execute(
                "SELECT t.id, t.created, t.source, t.photo_sha256, t.quality, t.model, t.model_sha256, t.vector "
                "FROM templates t JOIN people p ON p.id = t.person_id WHERE p.name = ? ORDER BY t.id",
                (name,),
            ).fetchall()
        return [
            StoredTemplate(i, created, source, photo, quality, (model, sha), vector_of(blob))
            for i, created, source, photo, quality, model, sha, blob in rows
        ]

    def remove_template(self, name: str, template_id: int) -> None:
        """Delete one of ``name``'s templates (a new version of the person); StoreError naming what is wrong.

        Their last template is not removed this way: a person without templates is nobody at the door,
        and ``people remove`` says so plainly.
        """
        with self._db.transaction(f"remove template {template_id} of {name!r}") as db:
            ids = [i for (i,) in db.execute(
                "SELECT t.id FROM templates t JOIN people p ON p.id = t.person_id WHERE p.name = ?", (name,)
            )]  # fmt: skip
            if template_id not in ids:
                held = ", ".join(map(str, sorted(ids))) or "none"
                raise StoreError(f"{name!r} has no template {template_id} (theirs: {held})")
            if len(ids) == 1:
                raise StoreError(f"template {template_id} is {name}'s last: remove the person instead")
            db.execute("DELETE FROM templates WHERE id = ?", (template_id,))
            bump(db, name, time.time())

    def rename(self, old: str, new: str) -> str:
        """Give ``old`` the name ``new`` (normalised, returned), templates and rules kept, in one transaction.

        For the fleet a rename is two changes: ``old`` becomes a tombstone and ``new`` a new version, so
        every door drops the old name and takes the new one.
        """
        new = check_name(new)
        with self._db.transaction(f"rename {old!r} to {new!r}") as db:
            if db.execute("SELECT 1 FROM people WHERE name = ?", (old,)).fetchone() is None:
                raise StoreError(f"no enrolled person called {old!r}")
            if new == old:
                return new
            if db.execute("SELECT 1 FROM people WHERE name = ?", (new,)).fetchone() is not None:
                raise StoreError(f"{new!r} is already enrolled: remove one of the two first")
            if lookalike_key(new) != lookalike_key(old):
                self._refuse_lookalike(db, new)
            db.execute("UPDATE people SET name = ? WHERE name = ?", (new, old))
            now = time.time()
            bump(db, old, now, deleted=True)
            bump(db, new, now)
        return new

    # -- versioned records (edgeface.storage.versions) and access rules (edgeface.storage.rules) --------------

    def set_rules(self, name: str, doors: tuple[str, ...] | None, schedule: tuple[Window, ...] | None) -> None:
        """Set which doors let ``name`` in, and when (None: no restriction); a new version of the person."""
        with self._db.transaction(f"set the rules of {name!r}") as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StoreError(f"no enrolled person called {name!r}")
            bump(db, name, time.time())
            write_rule(db, row[0], AccessRule(doors, schedule))

    def access_rules(self, device_id: str) -> dict[str, list[Window]]:
        """The windows in which door ``device_id`` lets each restricted person in (none at all: never)."""
        with self._db.guard("read the access rules") as db:
            return windows_at(db, device_id)

    def versions(self) -> dict[str, int]:
        """Name → version of every person and tombstone in the store."""
        with self._db.guard("read the versions") as db:
            return held_versions(db)

    def records(self, names: list[str] | None = None) -> list[PersonRecord]:
        """Every person and tombstone (or those of ``names`` that exist) as records, with all their templates."""
        with self._db.guard("read the records") as db:
            return read_records(db, names)

    def apply(self, record: PersonRecord, origin: str = "fleet") -> Outcome:
        """Take ``record`` if it is newer than what the store holds for that name (in one transaction)."""
        return self.apply_many([record], origin)[0]

    def apply_many(self, records: list[PersonRecord], origin: str = "fleet") -> list[Outcome]:
        """:meth:`apply` each record in turn, all in one transaction (one fsync for a whole batch)."""
        for record in records:
            check_name(record.name)
        with self._db.transaction(f"apply {len(records)} records") as db:
            return [apply_record(db, record, origin) for record in records]

    def withhold(self, reasons: dict[str, str], confirmed: set[str]) -> tuple[list[str], list[str]]:
        """Withhold the fleet-sourced people of ``reasons`` from the gallery and release those ``confirmed``
        (:func:`~edgeface.storage.versions.withhold`): the names newly withheld and newly released."""
        with self._db.transaction(f"withhold {len(reasons)} and release {len(confirmed)} people") as db:
            return withhold(db, reasons, confirmed)

    def fleet_people(self) -> set[str]:
        """The people this store holds because the fleet sent their record."""
        with self._db.guard("read the people taken from the fleet") as db:
            return fleet_people(db)

    def withheld(self) -> dict[str, str]:
        """Name → why, of the people kept out of the gallery until the fleet confirms them."""
        with self._db.guard("read the withheld people") as db:
            return withheld(db)

    def people(self, model: ModelId | None = None) -> list[Person]:
        """Everyone enrolled, with template counts split by whether they fit ``model``."""
        sha = model[1] if model else ""
        with self._db.guard("list the people") as db:
            rows = db.execute(
                "SELECT p.name, p.created, "
                " COALESCE(SUM(t.model_sha256 = ?), 0), COALESCE(SUM(t.model_sha256 != ?), 0) "
                "FROM people p LEFT JOIN templates t ON t.person_id = p.id GROUP BY p.id ORDER BY p.name",
                (sha, sha),
            ).fetchall()
        return [Person(name, int(ok), int(other), created) for name, created, ok, other in rows]

    def image_count(self) -> int:
        with self._db.guard("count the face images") as db:
            return int(db.execute("SELECT COUNT(*) FROM face_images").fetchone()[0])

    def purge_images(self, older_than: float | None = None) -> int:
        """Delete face crops created before ``older_than`` (epoch seconds; None: all); returns how many.

        The freed pages are zeroed (``secure_delete``) and the WAL truncated, so the crops are gone from disk.
        """
        where, args = ("WHERE created < ?", (older_than,)) if older_than is not None else ("", ())
        doing = "delete expired face images"
        with self._db.guard(doing) as db:
            if not db.execute(f"SELECT EXISTS(SELECT 1 FROM face_images {where})", args).fetchone()[0]:
                return 0  # nothing to delete: no write, so this works on a full or read-only disk too
        with self._db.transaction(doing) as db:
            cur = db.execute(f"DELETE FROM face_images {where}", args)
        with self._db.guard(doing) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cur.rowcount

    def integrity_check(self) -> str:
        """SQLite's own check of the file: ``ok``, or what is wrong."""
        return self._db.integrity_check()

    def gallery_for(self, embedder: Embedder) -> Gallery:
        """The templates ``embedder`` made (the daemon's and the tools' way in)."""
        return self.gallery(embedder.model_id, embedder.profile.output_dim)

    def gallery(self, model: ModelId, dim: int, *, origin: str | None = None) -> Gallery:
        """All templates made by ``model`` (of the people enrolled ``local``-ly or from the ``fleet`` only,
        if given); refuses a store whose templates all come from other models."""
        with self._db.guard("read the templates") as db:
            rows = db.execute(
                "SELECT p.name, t.vector, t.dim, t.model, t.model_sha256 FROM templates t "
                "JOIN people p ON p.id = t.person_id LEFT JOIN person_versions v ON v.name = p.name "
                "WHERE v.withheld IS NULL AND (? IS NULL OR COALESCE(v.origin, 'local') = ?) ORDER BY p.name, t.id",
                (origin, origin),
            ).fetchall()
        usable: dict[str, list[Vectors]] = {}
        stale: dict[str, set[str]] = {}
        for name, blob, row_dim, model_name, sha in rows:
            if sha == model[1] and row_dim == dim:
                usable.setdefault(name, []).append(vector_of(blob))
            else:
                stale.setdefault(name, set()).add(f"{model_name} ({sha[:12]})")
        stale_only = sorted(set(stale) - set(usable))
        if stale_only and not usable:
            models = ", ".join(sorted(set().union(*stale.values())))
            raise StaleTemplatesError(
                f"{self.path}: every template was made with another model ({models}), not with "
                f"{model[0]} ({model[1][:12]}); re-enrol the people (edgeface enroll) or configure that model again"
            )
        if stale_only:
            log.warning(
                "%s: %d people have templates only from another model and will not be recognised until re-enrolled: %s",
                self.path,
                len(stale_only),
                ", ".join(stale_only),
            )
        return Gallery.build({n: np.stack(v) for n, v in usable.items()}, dim)
