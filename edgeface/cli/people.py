"""Commands about people: enrol, list, remove, identify."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from edgeface.cli.common import Subparsers, face_row, note, open_store, positive_int, progress, recognised
from edgeface.cli.output import did_you_mean, plural, print_json
from edgeface.config import Config
from edgeface.errors import EdgefaceError, ImageError, UsageError
from edgeface.values import Image

log = logging.getLogger(__name__)


def _camera_frames(cfg: Config, seconds: float) -> Iterator[tuple[Image, float]]:
    from edgeface.capture.camera import open_camera

    deadline = time.monotonic() + seconds
    with open_camera(cfg.camera, cfg.camera_path) as camera:
        while time.monotonic() < deadline and not camera.stats.ended:
            frame = camera.read(1.0)
            if frame is not None:
                yield frame.image, frame.ts


def enroll_from_camera(args: argparse.Namespace, cfg: Config) -> int:
    from tqdm import tqdm

    from edgeface.ops.enroll import best_shots, enroll_shots
    from edgeface.vision.recognize import Recognizer

    told: dict[str, float] = {}

    def hint(text: str) -> None:
        # Say each piece of advice at most every 2 s: the camera delivers many frames a second.
        if time.monotonic() - told.get(text, -10.0) >= 2.0:
            told[text] = time.monotonic()
            note(f"  {text}")

    with Recognizer.from_config(cfg) as recognizer, open_store(cfg) as store:
        with tqdm(total=3 * args.count, desc=f"looking at {args.name}", unit="shot", leave=False) as bar:
            shots = best_shots(recognizer, _camera_frames(cfg, args.timeout), args.count, hint, lambda n: bar.update(1))
        if len(shots) < args.count:
            raise EdgefaceError(
                f"only {len(shots)} good view(s) of {args.name} in {args.timeout:.0f} s (wanted {args.count}); "
                "face the camera from about a metre, in good light, and try again"
            )
        added = enroll_shots(recognizer, store, args.name, shots)
        people = len(store.people())
    if args.json:
        print_json(
            {
                "enrolled": added,
                "already_enrolled": len(shots) - added,
                "skipped": [],
                "people": people,
                "store": str(cfg.store_path),
                "name": args.name,
                "best_quality": round(shots[0].score, 4),
            }
        )
    else:
        print(f"enrolled {added} camera shot(s) of {args.name} (best quality {shots[0].score:.2f})")
    return 0


def cmd_enroll(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.ops.enroll import EnrolResult, EnrolTally, enroll_photos, scan_faces
    from edgeface.vision.recognize import Recognizer

    if args.camera:
        if not args.name or args.photos or args.from_dir:
            raise UsageError("--camera takes NAME only: edgeface enroll NAME --camera [--count 5]")
        return enroll_from_camera(args, cfg)
    if args.from_dir:
        if args.name or args.photos:
            raise UsageError("give either NAME PHOTO... or --from-dir DIR, not both")
        if not args.from_dir.is_dir():
            raise EdgefaceError(f"{args.from_dir}: not a folder")
        scan = scan_faces(args.from_dir)
        items, not_photos = scan.photos, scan.skipped
    elif args.name and args.photos:
        items, not_photos = [(args.name, p) for p in args.photos], []
    else:
        raise UsageError("nothing to enrol: give NAME PHOTO... or --from-dir DIR")
    tally = EnrolTally()

    def report(result: EnrolResult) -> None:
        tally.add(result)
        log.info("%s: %s (%s)", result.photo, result.outcome.value, result.name)
        if result.refused and not args.json:
            note(f"skipped {result.line()}")

    for result in not_photos:
        report(result)
    if not items:
        raise EdgefaceError(f"{args.from_dir}: no photos found (expected <name>/*.jpg or <name>.jpg)")
    with Recognizer.from_config(cfg) as recognizer, open_store(cfg) as store:
        for result in enroll_photos(recognizer, store, progress(items, "enrolling")):
            report(result)
        people = len(store.people())
    if args.json:
        print_json(
            {
                "enrolled": tally.enrolled,
                "already_enrolled": tally.already_enrolled,
                "skipped": [r.to_dict() for r in tally.skipped],
                "people": people,
                "store": str(cfg.store_path),
            }
        )
    else:
        print(f"{tally.summary()}; {plural(people, 'person', 'people')} in {cfg.store_path}")
    return 1 if tally.failed else 0


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
    with open_store(cfg) as store:
        if not store.remove_person(args.name):
            hint = did_you_mean(args.name, [p.name for p in store.people()])
            raise EdgefaceError(f"no enrolled person called {args.name!r}{hint}")
    print(f"removed {args.name}")
    return 0


def _annotate_path(out: Path, image: Path, many: bool) -> Path:
    return out.with_name(f"{out.stem}_{image.stem}{out.suffix}") if many else out


def _identify_line(row: dict[str, object]) -> str:
    """One face of ``identify``'s text output, from its ``--json`` row."""
    name = row["person"] or row["candidate"] or "-"
    if row["decision"] == "skipped":
        return f"{'skipped':<8} {name:<24} {row['reason']}"
    return f"{row['decision']:<8} {name:<24} similarity {row['similarity']:.3f}"


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
                print(f"{path}: {len(faces)} face(s)")
                for f in faces:
                    print(f"  {_identify_line(f)}")
            if args.annotate:
                out = _annotate_path(args.annotate, path, len(args.images) > 1)
                write_private(out, encode_image(annotate(image, outcomes), out))
    return 1 if failures else 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser("enroll", help="enrol a person from photos")
    p.add_argument("name", nargs="?", help="the person's name")
    p.add_argument("photos", nargs="*", type=Path, help="photos showing only that person")
    p.add_argument("--from-dir", type=Path, help="a faces/ folder: <name>/*.jpg and <name>.jpg")
    p.add_argument("--camera", action="store_true", help="take the photos with the configured camera")
    p.add_argument("--count", type=positive_int, default=5, help="--camera: templates to keep (default 5)")
    p.add_argument("--timeout", type=float, default=60.0, help="--camera: give up after this many seconds")
    p.add_argument("--json", action="store_true", help="print one JSON object (skipped photos in it, not on stderr)")
    p.set_defaults(func=cmd_enroll)

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
