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


def _frame_size(text: str) -> tuple[int, int] | None:
    if text == "native":
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT (e.g. 640x480) or native, not {text!r}") from None
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError(f"frame size {text} is too small")
    return width, height


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def cmd_bench_speed(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.bench.speed import run_speed
    from edgeface.runtime import default_threads

    if args.threads is not None:
        cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"threads": args.threads})})
    with Recognizer.from_config(cfg) as recognizer:
        report = run_speed(
            recognizer,
            args.source or cfg.camera_path,
            frames=args.frames,
            warmup=args.warmup,
            store_size=args.store_size,
            frame_size=args.frame_size,
            threads=cfg.runtime.threads or default_threads(),
            detector_name=Path(cfg.detector.model).name,
        )
    print(json.dumps(report.to_dict()) if args.json else "\n".join(report.table()))
    return 0


def cmd_models_list(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.modelfiles import catalogue_status, describe, status_row

    checks = catalogue_status(cfg.models_dir)
    if args.json:
        print(json.dumps({"models_dir": str(cfg.models_dir), "models": [status_row(e, c) for e, c in checks]}))
        return 0
    print(f"models in {cfg.models_dir}:")
    for entry, check in checks:
        print(f"  {describe(entry, check)}")
    return 0


def cmd_models_verify(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.modelfiles import configured_checks

    failed = 0
    for check in configured_checks(cfg):
        if check.ok:
            pin = "" if check.expected else "  (no SHA-256 pinned)"
            print(f"✓ {check.role}: {check.path}  sha256 {check.actual}{pin}")
        else:
            failed += 1
            why = check.problem or f"sha256 {check.actual}, expected {check.expected}"
            print(f"✗ {check.role}: {check.path}  {why}")
    return 1 if failed else 0


def cmd_models_pull(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.modelfiles import find, pull

    entry = find(args.name)
    path = pull(entry, args.dest or cfg.models_dir, url=args.url)
    print(f"{path}: sha256 {entry.sha256} ok")
    return 0


def cmd_models_quantize(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.profiles import BUILTIN_PROFILES
    from edgeface.quantize import calibration_crops, photos_under, profile_for, quantize_model
    from edgeface.recognize import open_detector

    if args.output.resolve() == args.input.resolve():
        raise EdgefaceError(f"{args.output}: the output must not overwrite the input model")
    if args.profile is not None and args.profile not in BUILTIN_PROFILES:
        raise EdgefaceError(f"unknown profile {args.profile!r}; choose one of {', '.join(BUILTIN_PROFILES)}")
    profile = BUILTIN_PROFILES[args.profile] if args.profile else profile_for(args.input, cfg.profile)
    crops, missed = None, 0
    if args.calibration is not None:
        photos = photos_under(args.calibration)
        detector = open_detector(cfg)
        try:
            crops, missed = calibration_crops(detector, _progress(photos, "calibrating"), profile)
        finally:
            detector.close()
        if not crops:
            raise EdgefaceError(f"{args.calibration}: no face found in any of {len(photos)} photos")
    result = quantize_model(
        args.input, args.output, profile, crops=crops, dynamic=args.dynamic, photos_without_face=missed
    )
    print("\n".join(result.summary(args.input)))
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


def _add_bench_speed_parser(bench: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = bench.add_parser(
        "speed",
        help="time each pipeline stage on real frames",
        description=(
            "Run detect → quality gates → align → embed → match from the config on real frames after a warm-up. "
            "--json prints one object: decode_ms, detect_ms, align_ms, embed_ms, match_ms and frame_ms each map "
            'to {"median": ms, "p95": ms} (align_ms and embed_ms per face, the others per frame; frame_ms is '
            "detect to match, decode is apart as the daemon decodes on its capture thread), plus fps "
            "(frames / total frame_ms), faces (embedded: passed the quality gates), detected, frames, "
            "rss_mb (peak resident memory), model, detector, threads, templates, people, source and frame_size."
        ),
    )
    p.add_argument("--source", type=Path, help="a video, a folder of photos or a photo (default: the demo clip)")
    p.add_argument("--frames", type=_positive_int, default=200, metavar="N", help="measured frames (default 200)")
    p.add_argument("--warmup", type=_non_negative_int, default=10, metavar="N", help="unmeasured first frames")
    p.add_argument(
        "--store-size",
        type=_non_negative_int,
        default=100,
        metavar="N",
        help="match against N synthetic templates, 5 per person (default 100)",
    )
    p.add_argument(
        "--frame-size",
        type=_frame_size,
        default=(640, 480),
        metavar="WxH",
        help="letterbox every frame onto this canvas (default 640x480), or 'native' to keep the decoded size",
    )
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N", help="override runtime.threads")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_speed)


def _add_models_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="list, verify, download or quantize model files").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = models.add_parser("list", help="the known model files and whether each is in models_dir, verified")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_models_list)
    p = models.add_parser("verify", help="check the SHA-256 of the configured models (exit 1 on a mismatch)")
    p.set_defaults(func=cmd_models_verify)
    p = models.add_parser("pull", help="download a known model file, verified against its pinned SHA-256")
    p.add_argument("name", help="a file name from `models list`, or a profile name such as mobilefacenet")
    p.add_argument("--url", help="download from here instead (a mirror, or file:// for a local copy)")
    p.add_argument("--dest", type=Path, help="folder to put the file in (default: models_dir)")
    p.set_defaults(func=cmd_models_pull)
    p = models.add_parser(
        "quantize",
        help="make an int8 copy of an embedding model",
        description=(
            "Static int8 QDQ (per-channel QInt8 weights, QUInt8 activations, MinMax) calibrated on faces that "
            "edgeface's detector finds and aligns in --calibration DIR; or --dynamic, which needs no photos."
        ),
    )
    p.add_argument("input", type=Path, metavar="IN.onnx")
    p.add_argument("output", type=Path, metavar="OUT.onnx")
    p.add_argument("--calibration", type=Path, metavar="DIR", help="photos of faces (required for static)")
    p.add_argument("--profile", help="preprocessing profile (default: the one pinned to IN, else the config's)")
    p.add_argument("--dynamic", action="store_true", help="dynamic quantization instead of static")
    p.set_defaults(func=cmd_models_quantize)


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

    _add_bench_speed_parser(bench)

    _add_models_parser(sub)

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
