"""The ``edgeface`` command: argument parsing and output formatting only.

Every command is a small function taking the parsed arguments and the loaded
config; the work is done by the library modules. Errors edgeface raises on
purpose become one ``edgeface: error: ...`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import cv2
from tqdm import tqdm

from edgeface import __version__
from edgeface.annotate import annotate
from edgeface.config import Config, default_config_path, load_config
from edgeface.enroll import Outcome, enroll_photos, photos_in
from edgeface.errors import EdgefaceError, ImageError
from edgeface.images import load_image
from edgeface.recognize import Recognizer
from edgeface.runtime import file_sha256
from edgeface.store import Store

log = logging.getLogger("edgeface")
T = TypeVar("T")


def configure_logging(verbosity: int) -> None:
    """One handler for the whole process; journald adds its own timestamps under systemd."""
    level = logging.WARNING - 10 * verbosity
    under_systemd = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s" if under_systemd else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=max(logging.DEBUG, level), format=fmt, stream=sys.stderr)


def _progress(items: Sequence[T], desc: str) -> Iterable[T]:
    # tqdm hides itself when stderr is not a terminal, so logs and pipes stay clean.
    bar: Iterable[T] = tqdm(items, desc=desc, unit="photo", disable=None if len(items) > 1 else True, leave=False)
    return bar


def _open_store(cfg: Config) -> Store:
    return Store(cfg.store_path, keep_images=cfg.store.keep_images)


def cmd_enroll(args: argparse.Namespace, cfg: Config) -> int:
    if args.from_dir:
        if args.name or args.photos:
            raise EdgefaceError("give either NAME PHOTO... or --from-dir DIR, not both")
        if not args.from_dir.is_dir():
            raise EdgefaceError(f"{args.from_dir}: not a folder")
        items = list(photos_in(args.from_dir))
    elif args.name and args.photos:
        items = [(args.name, p) for p in args.photos]
    else:
        raise EdgefaceError("nothing to enrol: give NAME PHOTO... or --from-dir DIR")
    if not items:
        raise EdgefaceError(f"{args.from_dir}: no photos found (expected <name>/*.jpg or <name>.jpg)")
    enrolled = skipped = 0
    with Recognizer.from_config(cfg) as recognizer, _open_store(cfg) as store:
        for result in enroll_photos(recognizer, store, _progress(items, "enrolling")):
            if result.outcome in (Outcome.ENROLLED, Outcome.ALREADY_ENROLLED):
                enrolled += result.outcome is Outcome.ENROLLED
                log.info("%s: %s (%s)", result.photo, result.outcome.value, result.name)
            else:
                skipped += 1
                print(f"skipped {result.photo}: {result.outcome.value} — {result.detail}", file=sys.stderr)
        people = len(store.people())
    print(f"enrolled {enrolled} photo(s), skipped {skipped}; {people} people in {cfg.store_path}")
    return 0 if enrolled or not skipped else 1


def _configured_model(cfg: Config) -> tuple[str, str]:
    profile = cfg.profile
    return profile.name, file_sha256(cfg.model_path(profile.model))


def cmd_people_list(args: argparse.Namespace, cfg: Config) -> int:
    model = _configured_model(cfg)
    with _open_store(cfg) as store:
        people = store.people(model)
    if args.json:
        rows = [{"name": p.name, "templates": p.templates, "other_model_templates": p.other_templates} for p in people]
        print(json.dumps({"model": model[0], "people": rows}))
        return 0
    for p in people:
        stale = f"  ({p.other_templates} from another model: re-enrol)" if p.other_templates else ""
        print(f"{p.name}\t{p.templates} template(s){stale}")
    print(f"{len(people)} people", file=sys.stderr)
    return 0


def cmd_people_remove(args: argparse.Namespace, cfg: Config) -> int:
    with _open_store(cfg) as store:
        if not store.remove_person(args.name):
            raise EdgefaceError(f"no enrolled person called {args.name!r}")
    print(f"removed {args.name}")
    return 0


def _annotate_path(out: Path, image: Path, many: bool) -> Path:
    return out.with_name(f"{out.stem}_{image.stem}{out.suffix}") if many else out


def cmd_identify(args: argparse.Namespace, cfg: Config) -> int:
    failures = 0
    with _open_store(cfg) as store, Recognizer.from_config(cfg) as recognizer:
        recognizer.gallery = store.gallery(recognizer.model_id, recognizer.embedder.profile.output_dim)
        for path in args.images:
            try:
                image = load_image(path)
            except ImageError as exc:
                print(f"edgeface: error: {exc}", file=sys.stderr)
                failures += 1
                continue
            results = recognizer.identify(image)
            faces = [
                {
                    "box": [round(v, 1) for v in r.face.box],
                    "score": round(r.face.score, 3),
                    "landmarks": [[round(float(v), 1) for v in pt] for pt in r.face.landmarks],
                    "person": r.match.person,
                    "candidate": r.match.candidate,
                    "similarity": round(r.match.similarity, 4),
                    "decision": "known" if r.match.person else "unknown",
                }
                for r in results
            ]
            if args.json:
                print(json.dumps({"image": str(path), "threshold": round(recognizer.threshold, 4), "faces": faces}))
            else:
                print(f"{path}: {len(faces)} face(s)")
                for f in faces:
                    name = f["person"] or f["candidate"] or "-"
                    print(f"  {f['decision']:<8} {name:<24} similarity {f['similarity']:.3f}")
            if args.annotate:
                out = _annotate_path(args.annotate, path, len(args.images) > 1)
                if not cv2.imwrite(str(out), annotate(image, [(r.face, r.match) for r in results])):
                    raise EdgefaceError(f"{out}: cannot write the annotated image")
    return 1 if failures else 0


def cmd_bench_accuracy(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.bench.accuracy import run_accuracy

    with Recognizer.from_config(cfg) as recognizer:
        report = run_accuracy(
            recognizer,
            args.faces,
            enroll_per_person=args.enroll_per_person,
            threshold=args.threshold,
            progress=lambda jobs: _progress(list(jobs), "bench"),
        )
    data = report.to_dict()
    if args.json:
        print(json.dumps(data))
    else:
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key:<{width}}  {value}")
    return 0


def cmd_config_check(args: argparse.Namespace, cfg: Config) -> int:
    path = args.path or default_config_path()
    checked = load_config(path) if args.path else cfg
    for name in (checked.detector.model, checked.profile.model):
        file_sha256(checked.model_path(name))
    print(f"{path or '(embedded defaults)'}: ok")
    return 0


def cmd_config_show(args: argparse.Namespace, cfg: Config) -> int:
    print(json.dumps(cfg.model_dump(mode="json"), indent=2))
    return 0


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.service import run_daemon

    return run_daemon(cfg, args.config)


def cmd_relay_lock(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.relay import DoorRelay, make_pin_factory

    factory = make_pin_factory(cfg.relay.pin_factory)
    try:
        with DoorRelay.from_config(cfg.relay, factory) as relay:
            relay.lock()
    finally:
        factory.close()
    print(f"relay on GPIO{cfg.relay.pin} locked")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeface", description="Face-recognition access control for the edge.")
    parser.add_argument("--version", action="version", version=f"edgeface {__version__}")
    parser.add_argument("-c", "--config", type=Path, help="config file (default: $EDGEFACE_CONFIG, /etc/edgeface)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("enroll", help="enrol a person from photos")
    p.add_argument("name", nargs="?", help="the person's name")
    p.add_argument("photos", nargs="*", type=Path, help="photos showing only that person")
    p.add_argument("--from-dir", type=Path, help="a faces/ folder: <name>/*.jpg and <name>.jpg")
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

    bench = sub.add_parser("bench", help="measure accuracy, speed or liveness").add_subparsers(
        dest="bench", required=True, metavar="BENCH"
    )
    p = bench.add_parser("accuracy", help="recognition accuracy on a labelled faces/ folder")
    p.add_argument("--faces", type=Path, required=True, help="DIR/<person>/*.jpg and DIR/unknown/*.jpg")
    p.add_argument("--enroll-per-person", type=_positive_int, default=1, metavar="K")
    p.add_argument("--threshold", type=float, default=None, metavar="T", help="default: the config's")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_accuracy)

    p = sub.add_parser("run", help="run the door daemon")
    p.set_defaults(func=cmd_run)

    relay = sub.add_parser("relay", help="drive the door relay").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = relay.add_parser("lock", help="release the relay (door locked) and exit")
    p.set_defaults(func=cmd_relay_lock)

    config = sub.add_parser("config", help="check or show the configuration").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = config.add_parser("check", help="validate a config file and its model files")
    p.add_argument("path", nargs="?", type=Path)
    p.set_defaults(func=cmd_config_check)
    p = config.add_parser("show", help="print the effective config as JSON")
    p.set_defaults(func=cmd_config_show)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    func: Callable[[argparse.Namespace, Config], int] = args.func
    try:
        cfg = load_config(args.config) if func is not cmd_config_check or not args.path else Config()
        return func(args, cfg)
    except EdgefaceError as exc:
        print(f"edgeface: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
