"""Commands about people: list, show, remove, rename, identify (``enroll`` is :mod:`edgeface.cli.enroll`).

A removal and a rename are written to the audit log with who made them, as an enrolment is."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeface.cli.common import Subparsers, face_line, face_row, open_store, recognised
from edgeface.cli.output import did_you_mean, plural, print_json
from edgeface.config import Config
from edgeface.errors import EdgefaceError, ImageError

if TYPE_CHECKING:
    from edgeface.storage.audit import AuditLog
    from edgeface.storage.people import Store, StoredTemplate

log = logging.getLogger(__name__)


def _configured_model(cfg: Config) -> tuple[str, str]:
    from edgeface.models.checksums import file_sha256

    profile = cfg.profile
    return profile.name, file_sha256(cfg.model_path(profile.model))


def cmd_people_list(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.vision.threshold import ThresholdPolicy

    model = _configured_model(cfg)
    with open_store(cfg) as store:
        people = store.people(model)
    templates = sum(p.templates for p in people)
    threshold = ThresholdPolicy.from_config(cfg).for_gallery(templates)
    if args.json:
        rows = [{"name": p.name, "templates": p.templates, "other_model_templates": p.other_templates} for p in people]
        print_json(
            {
                "model": model[0],
                "people": rows,
                "threshold": round(threshold.value, 4),
                "target_far": threshold.target_far,
                "threshold_source": threshold.source,
            }
        )
        return 0
    for p in people:
        stale = f"  ({p.other_templates} from another model: re-enrol)" if p.other_templates else ""
        print(f"{p.name}\t{p.templates} template(s){stale}")
    counts = f"{plural(len(people), 'person', 'people')}, {plural(templates, 'template', 'templates')}"
    print(f"{counts}; match threshold {threshold.describe()}", file=sys.stderr)
    return 0


def _unknown(name: str, store: Store) -> EdgefaceError:
    hint = did_you_mean(name, [p.name for p in store.people()])
    return EdgefaceError(f"no enrolled person called {name!r}{hint}")


def _audit(cfg: Config) -> AuditLog:
    from edgeface.storage.audit import AuditLog

    return AuditLog(cfg.store_path, cfg.store.audit_retention_days)


def _template_row(t: StoredTemplate, similarity: float | None) -> dict[str, object]:
    """One template as ``people show --json`` prints it: where it came from, how good, how alike the others."""
    source = t.source or ""
    kinds = {"fleet": "fleet", "camera": "camera", "door": "door"}
    kind = kinds.get(source.split(" ", 1)[0], "photo")
    return {
        "id": t.id,
        "created": datetime.fromtimestamp(t.created, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": kind,
        "detail": source,
        "photo_sha256": t.photo_sha256,
        "quality": None if t.quality is None else round(t.quality, 3),
        "similarity": None if similarity is None else round(similarity, 4),
        "model": t.model[0],
    }


def cmd_people_show(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.errors import StoreError
    from edgeface.vision.vetting import similarity_to_rest

    with open_store(cfg) as store:
        try:
            templates = store.templates(args.name)
        except StoreError:
            raise _unknown(args.name, store) from None
    # Each template beside the others of its model: a low one is the photo to look at (people remove --template).
    similarity: dict[int, float | None] = {}
    for sha in {t.model[1] for t in templates}:
        same = [t for t in templates if t.model[1] == sha]
        scores = similarity_to_rest(np.stack([t.vector for t in same])) if len(same) > 1 else [None]
        similarity.update(zip((t.id for t in same), scores, strict=True))
    rows = [_template_row(t, similarity[t.id]) for t in templates]
    if args.json:
        print_json({"name": args.name, "templates": rows})
        return 0
    print(f"{'id':>5}  {'enrolled':<20}  {'source':<28} {'quality':>7} {'similarity':>10}  model")
    for r in rows:
        where = f"{r['source']} {r['detail'] if r['source'] != 'photo' else str(r['photo_sha256'])[:12]}"
        quality = "-" if r["quality"] is None else f"{r['quality']:.2f}"
        alike = "-" if r["similarity"] is None else f"{r['similarity']:.3f}"
        print(f"{r['id']:>5}  {r['created']:<20}  {where[:28]:<28} {quality:>7} {alike:>10}  {r['model']}")
    return 0


def cmd_people_remove(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.errors import StoreError
    from edgeface.storage.audit import Change, local_user

    with open_store(cfg) as store, _audit(cfg) as audit:
        held = {p.name: p.templates + p.other_templates for p in store.people()}
        # As enrolment normalises it: "alice " is alice.
        name = args.name if args.name in held else unicodedata.normalize("NFKC", args.name).strip()
        if name not in held:
            raise _unknown(args.name, store)
        if args.template is None:
            store.remove_person(name)
            audit.record_change(Change("removed", name, f"{held[name]} template(s)", local_user(), held[name]))
            print(f"removed {name}")
            return 0
        source = next((t.source for t in store.templates(name) if t.id == args.template), None)
        try:
            store.remove_template(name, args.template)
        except StoreError as exc:
            raise EdgefaceError(str(exc)) from None
        audit.record_change(Change("removed", name, f"template {args.template} ({source or '?'})", local_user(), 1))
    print(f"removed template {args.template} of {name}")
    return 0


def cmd_people_rename(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.errors import StoreError
    from edgeface.storage.audit import Change, local_user

    with open_store(cfg) as store, _audit(cfg) as audit:
        if args.old not in {p.name for p in store.people()}:
            raise _unknown(args.old, store)
        try:
            new = store.rename(args.old, args.new)
        except StoreError as exc:
            raise EdgefaceError(str(exc)) from None
        audit.record_change(Change("renamed", new, f"from {args.old}", local_user()))
    print(f"renamed {args.old} to {new}")
    return 0


def _annotate_path(out: Path, image: Path, many: bool) -> Path:
    return out.with_name(f"{out.stem}_{image.stem}{out.suffix}") if many else out


def cmd_identify(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.storage.fsperm import write_private
    from edgeface.values import Frame
    from edgeface.vision.annotate import annotate
    from edgeface.vision.images import encode_image, load_image
    from edgeface.vision.pipeline import FramePipeline
    from edgeface.vision.recognize import Recognizer

    failures = 0
    with open_store(cfg) as store, Recognizer.from_config(cfg) as recognizer:
        recognizer.gallery = store.gallery_for(recognizer.embedder)
        pipeline = FramePipeline(recognizer)  # the door's gates, without its camera-only liveness check
        for index, path in enumerate(args.images):
            try:
                image = load_image(path)
            except ImageError as exc:
                print(f"edgeface: error: {exc}", file=sys.stderr)
                failures += 1
                continue
            outcomes = recognised(pipeline.process(Frame(image, time.time(), index)))
            faces = [face_row(o) for o in outcomes]
            if args.json:
                print_json({"image": str(path), "threshold": round(recognizer.threshold, 4), "faces": faces})
            else:
                print(f"{path}: {plural(len(faces), 'face', 'faces')}")
                for outcome in outcomes:
                    print(f"  {face_line(outcome, cfg.decide.unknown_below)}")
            if args.annotate:
                out = _annotate_path(args.annotate, path, len(args.images) > 1)
                write_private(out, encode_image(annotate(image, outcomes), out))
    return 1 if failures else 0


def register(sub: Subparsers) -> None:
    people = sub.add_parser("people", help="list or remove enrolled people").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = people.add_parser("list", help="everyone enrolled")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_people_list)
    p = people.add_parser("show", help="one person's templates: where each came from, how good, how alike")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_people_show)
    p = people.add_parser("remove", help="delete a person and their templates, or one template (audited)")
    p.add_argument("name")
    p.add_argument("--template", type=int, metavar="ID", help="only this template (ids: people show NAME)")
    p.set_defaults(func=cmd_people_remove)
    p = people.add_parser("rename", help="give a person another name, templates and rules kept (audited)")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(func=cmd_people_rename)

    p = sub.add_parser("identify", help="who is in these photos")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--annotate", type=Path, metavar="OUT.jpg", help="write the image with boxes and names")
    p.set_defaults(func=cmd_identify)
