"""``edgeface enroll``: photos, a ``faces/`` folder or the camera → templates, every face checked first.

What each check refuses and why is :mod:`edgeface.ops.enroll`; this module parses, reports one
``skipped`` line per refused photo (in ``--json`` instead), and names every person created or given
more templates.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from edgeface.cli.common import Subparsers, note, open_store, positive_int, progress
from edgeface.cli.output import plural, print_json
from edgeface.config import Config
from edgeface.errors import EdgefaceError, UsageError
from edgeface.values import Image

if TYPE_CHECKING:
    from edgeface.ops.enroll import Enrolment
    from edgeface.ops.results import EnrolTally
    from edgeface.storage.people import Store

log = logging.getLogger(__name__)


def _camera_frames(cfg: Config, seconds: float) -> Iterator[tuple[Image, float]]:
    from edgeface.capture.camera import open_camera

    deadline = time.monotonic() + seconds
    with open_camera(cfg.camera, cfg.camera_path) as camera:
        while time.monotonic() < deadline and not camera.stats.ended:
            frame = camera.read(1.0)
            if frame is not None:
                yield frame.image, frame.ts


def _session(args: argparse.Namespace, cfg: Config, stack: ExitStack) -> tuple[Enrolment, Store]:
    """The recognizer, the store and the audit log of one enrol command, closed with ``stack``."""
    from edgeface.ops.enroll import Enrolment, Overrides
    from edgeface.storage.audit import AuditLog
    from edgeface.vision.recognize import Recognizer

    recognizer = stack.enter_context(Recognizer.from_config(cfg))
    store = stack.enter_context(open_store(cfg))
    audit = None if args.dry_run else stack.enter_context(AuditLog(cfg.store_path, cfg.store.audit_retention_days))
    overrides = Overrides(force=args.force, allow_similar=args.allow_similar)
    return Enrolment(recognizer, store, overrides=overrides, dry_run=args.dry_run, audit=audit), store


def enroll_from_camera(args: argparse.Namespace, cfg: Config) -> int:
    from tqdm import tqdm

    from edgeface.liveness.levels import liveness_threshold
    from edgeface.liveness.screen import open_liveness_model
    from edgeface.models.runtime import RuntimeOptions
    from edgeface.ops.results import EnrolTally
    from edgeface.ops.shots import LiveCheck, best_shots, enroll_shots

    told: dict[str, float] = {}

    def hint(text: str) -> None:
        # Say each piece of advice at most every 2 s: the camera delivers many frames a second.
        if time.monotonic() - told.get(text, -10.0) >= 2.0:
            told[text] = time.monotonic()
            note(f"  {text}")

    with ExitStack() as stack:
        enrolment, store = _session(args, cfg, stack)
        live: LiveCheck | None = None
        if cfg.liveness.enabled:
            model = open_liveness_model(cfg, RuntimeOptions.from_config(cfg.runtime))
            stack.callback(model.close)
            threshold = liveness_threshold(cfg.liveness)
            live = lambda image, face: float(model.score(image, [face])[0]) >= threshold  # noqa: E731
        with tqdm(total=3 * args.count, desc=f"looking at {args.name}", unit="shot", leave=False) as bar:
            frames = _camera_frames(cfg, args.timeout)
            shots = best_shots(enrolment.recognizer, frames, args.count, hint, lambda n: bar.update(1), live=live)
        if len(shots) < args.count:
            raise EdgefaceError(
                f"only {len(shots)} good view(s) of {args.name} in {args.timeout:.0f} s (wanted {args.count}); "
                "face the camera from about a metre, in good light, and try again"
            )
        tally = EnrolTally()
        for result in enroll_shots(enrolment, args.name, shots):
            tally.add(result)
        people = len(store.people())
    if args.json:
        print_json(
            {**_summary(tally, enrolment, cfg, people), "name": args.name, "best_quality": round(shots[0].score, 4)}
        )
    else:
        for result in tally.skipped:
            note(f"skipped {result.line()}")
        verb = "would enrol" if args.dry_run else "enrolled"
        print(f"{verb} {tally.enrolled} camera shot(s) of {args.name} (best quality {shots[0].score:.2f})")
    return 0


def _summary(tally: EnrolTally, enrolment: Enrolment, cfg: Config, people: int) -> dict[str, object]:
    return {
        "enrolled": tally.enrolled,
        "already_enrolled": tally.already_enrolled,
        "skipped": [r.to_dict() for r in tally.skipped],
        "created": enrolment.created,
        "extended": enrolment.extended,
        "overridden": [r.to_dict() for r in tally.overridden],
        "dry_run": enrolment.dry_run,
        "people": people,
        "store": str(cfg.store_path),
    }


def enroll_from_recent(args: argparse.Namespace, cfg: Config) -> int:
    """The faces the running door saw (``faces recent``), with every check a photo gets."""
    import base64

    import numpy as np

    from edgeface.daemon.control import ask, control_path
    from edgeface.ops.enroll import door_candidate
    from edgeface.ops.results import EnrolTally

    path = control_path(cfg)
    reply = ask(path, {"op": "take", "ids": args.recent})
    faces, model = reply["faces"], reply["model"]
    assert isinstance(faces, list) and isinstance(model, list)
    tally = EnrolTally()
    with ExitStack() as stack:
        enrolment, store = _session(args, cfg, stack)
        if list(enrolment.recognizer.model_id) != model:
            raise EdgefaceError(
                f"the daemon runs {model[0]} ({model[1][:12]}), this config {enrolment.recognizer.model_id[0]}: "
                "give the daemon's config (-c)"
            )
        candidates = [
            door_candidate(
                f["id"], f["time"], np.asarray(f["vector"]), base64.b64decode(f["jpeg"]), f["quality"],
                keep=store.keep_images,
            )
            for f in faces
        ]  # fmt: skip
        results = enrolment.enrol(args.name, candidates)
        for result in results:
            tally.add(result)
        people = len(store.people())
    enrolled = [f["id"] for f, r in zip(faces, results, strict=True) if not r.refused]
    if enrolled and not args.dry_run:
        ask(path, {"op": "enrolled", "ids": enrolled})  # the door forgets them and reloads its gallery
    if args.json:
        print_json({**_summary(tally, enrolment, cfg, people), "name": args.name})
    else:
        for result in tally.skipped:
            note(f"skipped {result.line()}")
        verb = "would enrol" if args.dry_run else "enrolled"
        print(f"{verb} {tally.enrolled} recent face(s) as {args.name}, skipped {len(tally.skipped)}")
    return 1 if tally.failed else 0


def cmd_enroll(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.ops.results import EnrolResult, EnrolTally
    from edgeface.ops.scan import scan_faces

    if args.recent:
        if not args.name or args.photos or args.from_dir or args.camera:
            raise UsageError("--recent takes NAME only: edgeface enroll NAME --recent ID... (ids: faces recent)")
        return enroll_from_recent(args, cfg)
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
        if args.json:
            return
        if result.refused:
            note(f"skipped {result.line()}")
        elif result.overridden:
            note(f"enrolled {result.photo} as {result.name}: {result.overridden}")

    for result in not_photos:
        report(result)
    if not items:
        raise EdgefaceError(f"{args.from_dir}: no photos found (expected <name>/*.jpg or <name>.jpg)")
    with ExitStack() as stack:
        enrolment, store = _session(args, cfg, stack)
        for result in enrolment.photos(progress(items, "enrolling")):
            report(result)
        people = len(store.people())
    tally.created, tally.extended = enrolment.created, enrolment.extended
    if args.json:
        print_json(_summary(tally, enrolment, cfg, people))
    else:
        for line in tally.names(args.dry_run) if args.from_dir else []:  # NAME PHOTO... named its one person
            print(line)
        print(f"{tally.summary(args.dry_run)}; {plural(people, 'person', 'people')} in {cfg.store_path}")
    return 1 if tally.failed else 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "enroll",
        help="enrol a person from photos, a faces/ folder or the camera",
        description=(
            "Every face is checked before it is stored: added to a person it must match them (at a false-accept "
            "rate of 1e-4), under a new name it must not pass for anyone enrolled, and the photos of one name must "
            "agree with each other. A flat faces/ photo names its person by file name (alice.jpg, alice_2.jpg); a "
            "camera's file name (IMG_1234.jpg) names no one and is skipped."
        ),
    )
    p.add_argument("name", nargs="?", help="the person's name")
    p.add_argument("photos", nargs="*", type=Path, help="photos showing only that person")
    p.add_argument("--from-dir", type=Path, help="a faces/ folder: <name>/*.jpg and <name>.jpg")
    p.add_argument("--camera", action="store_true", help="take the photos with the configured camera")
    p.add_argument(
        "--recent",
        type=positive_int,
        nargs="+",
        metavar="ID",
        help="faces the running door saw (ids from edgeface faces recent)",
    )
    p.add_argument("--count", type=positive_int, default=5, help="--camera: templates to keep (default 5)")
    p.add_argument("--timeout", type=float, default=60.0, help="--camera: give up after this many seconds")
    p.add_argument(
        "--dry-run", action="store_true", help="check everything and say what would be enrolled; write nothing"
    )
    p.add_argument(
        "--force", action="store_true", help="enrol faces that do not match their person or each other (audited)"
    )
    p.add_argument(
        "--allow-similar",
        action="store_true",
        help="enrol a new name whose face passes for someone enrolled, e.g. a twin (audited)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (skipped photos in it, not on stderr)")
    p.set_defaults(func=cmd_enroll)
