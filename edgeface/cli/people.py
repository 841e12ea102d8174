"""Commands about people: list, remove, identify (``enroll`` is :mod:`edgeface.cli.enroll`)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from edgeface.cli.common import Subparsers, face_line, face_row, open_store, recognised
from edgeface.cli.output import did_you_mean, plural, print_json
from edgeface.config import Config
from edgeface.errors import EdgefaceError, ImageError

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


def cmd_people_remove(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.storage.audit import AuditLog, Change, local_user

    with open_store(cfg) as store, AuditLog(cfg.store_path, cfg.store.audit_retention_days) as audit:
        held = {p.name: p.templates + p.other_templates for p in store.people()}
        if not store.remove_person(args.name):
            hint = did_you_mean(args.name, list(held))
            raise EdgefaceError(f"no enrolled person called {args.name!r}{hint}")
        templates = held.get(args.name, 0)
        audit.record_change(Change("removed", args.name, f"{templates} template(s)", local_user(), templates))
    print(f"removed {args.name}")
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
    p = people.add_parser("remove", help="delete a person and their templates")
    p.add_argument("name")
    p.set_defaults(func=cmd_people_remove)

    p = sub.add_parser("identify", help="who is in these photos")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("--annotate", type=Path, metavar="OUT.jpg", help="write the image with boxes and names")
    p.set_defaults(func=cmd_identify)
