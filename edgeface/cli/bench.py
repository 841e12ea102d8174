"""Benchmarks: accuracy on labelled photos, speed of each stage."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeface.cli.common import Subparsers, frame_size, non_negative_int, positive_int, progress
from edgeface.cli.output import print_json
from edgeface.config import Config


def cmd_bench_accuracy(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.bench.accuracy import run_accuracy
    from edgeface.vision.recognize import Recognizer

    with Recognizer.from_config(cfg) as recognizer:
        report = run_accuracy(
            recognizer,
            args.faces,
            enroll_per_person=args.enroll_per_person,
            threshold=args.threshold,
            progress=lambda jobs: progress(list(jobs), "bench"),
            gallery_sizes=args.gallery_sizes,
            far_target=args.far_target,
            repetitions=args.repetitions,
            seed=args.seed,
            holdout=args.holdout,
        )
    data = report.to_dict()
    if args.json:
        print_json(data)
        return 0
    galleries, holdout = data.pop("galleries"), data.pop("holdout")
    width = max(len(k) for k in data)
    for key, value in data.items():
        print(f"{key:<{width}}  {value}")
    if isinstance(galleries, list) and galleries:
        print(f"\n{'people':>7} {'tar@far':>8} {'t@far':>7} {'threshold':>9} {'tar':>6} {'far':>8} {'misid':>6}")
        for g in galleries:
            print(
                f"{g['size']:>7} {g['tar_at_far']:>8.4f} {g['threshold_at_far']:>7.4f} {g['threshold']:>9.4f} "
                f"{g['tar']:>6.4f} {g['far']:>8.5f} {g['misidentified']:>6}"
            )
    if isinstance(holdout, dict):
        print(
            f"\nheld out: tail fitted on {holdout['fit_people']} people, judged on the other {holdout['test_people']}: "
            f"threshold {holdout['threshold']}, tar {holdout['tar']}, far {holdout['far']} "
            f"({holdout['false_accepts']}/{holdout['impostor_attempts']})"
        )
    return 0


def cmd_bench_pairs(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.bench.pairs import run_pairs
    from edgeface.vision.recognize import Recognizer

    with Recognizer.from_config(cfg) as recognizer:
        report = run_pairs(recognizer, args.pairs, args.root, progress=lambda photos: progress(list(photos), "pairs"))
    data = report.to_dict()
    if args.json:
        print_json(data)
    else:
        print(
            f"{report.model}: accuracy {report.accuracy:.4f} ± {report.accuracy_std:.4f} over {report.folds} folds "
            f"of {report.pairs} pairs (threshold {report.threshold:.4f}; {report.no_face} pairs without a face)"
        )
    return 0


def cmd_bench_speed(args: argparse.Namespace, cfg: Config) -> int:
    from contextlib import ExitStack

    from edgeface.bench.speed import run_speed
    from edgeface.liveness.screen import open_liveness_model
    from edgeface.models.runtime import RuntimeOptions, default_threads
    from edgeface.vision.recognize import Recognizer

    if args.threads is not None:
        cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"threads": args.threads})})
    with ExitStack() as stack, Recognizer.from_config(cfg, live=True) as recognizer:
        liveness = None
        if cfg.liveness.enabled:
            liveness = open_liveness_model(cfg, RuntimeOptions.from_config(cfg.runtime))
            stack.callback(liveness.close)
        report = run_speed(
            recognizer,
            args.source or cfg.camera_path,
            frames=args.frames,
            warmup=args.warmup,
            store_size=args.store_size,
            frame_size=args.frame_size,
            threads=cfg.runtime.threads or default_threads(),
            detector_name=Path(cfg.detector.model).name,
            liveness=liveness,
        )
    if args.json:
        print_json(report.to_dict())
    else:
        print("\n".join(report.table()))
    return 0


def sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes such as 10,100,800, not {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"gallery sizes must be at least 1: {text}")
    return values


def far(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"a false-accept rate is between 0 and 1, not {value}")
    return value


def unit_interval(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def cmd_bench_liveness(args: argparse.Namespace, cfg: Config) -> int:
    import cv2

    from edgeface.bench.liveness import run_liveness
    from edgeface.bench.livenessplot import render_det
    from edgeface.bench.padset import Manifest, find_manifest
    from edgeface.errors import ConfigError
    from edgeface.liveness.levels import LEVEL_THRESHOLDS, liveness_threshold
    from edgeface.liveness.screen import open_liveness_model
    from edgeface.models.runtime import RuntimeOptions
    from edgeface.vision.recognize import open_detector

    if args.by_source:
        return _bench_liveness_by_source(args, cfg)
    threshold = liveness_threshold(cfg.liveness) if args.threshold is None else args.threshold
    manifest_path = args.manifest or find_manifest([*args.real, *args.spoof])
    manifest = Manifest.read(manifest_path) if manifest_path is not None else None
    detector = open_detector(cfg)
    try:
        model = open_liveness_model(cfg, RuntimeOptions.from_config(cfg.runtime))
        try:
            report = run_liveness(
                detector,
                model,
                args.real,
                args.spoof,
                threshold=threshold,
                manifest=manifest,
                half=args.half,
                progress=lambda jobs: progress(list(jobs), "liveness"),
            )
        finally:
            model.close()
    finally:
        detector.close()
    marks = dict(LEVEL_THRESHOLDS)
    if threshold not in marks.values():
        marks = {"here": threshold, **marks}
    if args.plot is not None and not cv2.imwrite(str(args.plot), render_det(report.presentations(), marks)):
        raise ConfigError(f"{args.plot}: cannot write the plot (a .png path in a writable folder?)")
    if args.json:
        print_json(report.to_dict())
    else:
        print("\n".join(report.table()))
    return 0


def _bench_liveness_by_source(args: argparse.Namespace, cfg: Config) -> int:
    """Leave-one-source-out: every folder needs a manifest (its own, found beside it, or --manifest)."""
    from edgeface.bench.bysource import BySourceReport
    from edgeface.bench.padset import Manifest, find_manifest
    from edgeface.bench.screenfit import extract, leave_one_source_out, pad_photos
    from edgeface.errors import ConfigError
    from edgeface.liveness.minifasnet import MiniFASNet, model_specs
    from edgeface.models.runtime import RuntimeOptions
    from edgeface.vision.recognize import open_detector

    photos = []
    for folder in [*args.real, *args.spoof]:
        path = args.manifest or find_manifest([folder])
        if path is None:
            raise ConfigError(f"{folder}: --by-source needs a manifest.csv beside it (or --manifest)")
        photos += pad_photos([folder], Manifest.read(path))
    if not photos:
        raise ConfigError("--by-source found no photo that a manifest knows")
    detector = open_detector(cfg)
    try:
        with MiniFASNet.open(model_specs(cfg), RuntimeOptions.from_config(cfg.runtime)) as networks:
            data = extract(detector, networks, photos, progress=lambda it: progress(list(it), "liveness"))
    finally:
        detector.close()
    report = BySourceReport(data, leave_one_source_out(data))
    if args.json:
        print_json(report.to_dict())
    else:
        print("\n".join(report.table()))
    return 0


def register(sub: Subparsers) -> Subparsers:
    """The ``bench`` group; returned so that further benchmarks can join it."""
    bench: Subparsers = sub.add_parser("bench", help="measure accuracy, speed or liveness").add_subparsers(
        dest="bench", required=True, metavar="BENCH"
    )
    p = bench.add_parser("accuracy", help="recognition accuracy on a labelled faces/ folder")
    p.add_argument("--faces", type=Path, required=True, help="DIR/<person>/*.jpg and DIR/unknown/*.jpg")
    p.add_argument("--enroll-per-person", type=positive_int, default=1, metavar="K")
    p.add_argument(
        "--threshold", type=float, default=None, metavar="T", help="a fixed threshold (default: the product's own)"
    )
    p.add_argument(
        "--gallery-sizes",
        type=sizes,
        default=(),
        metavar="N,N,...",
        help="also score random galleries of these many people (the others become strangers)",
    )
    p.add_argument(
        "--far-target",
        type=far,
        default=0.001,
        metavar="F",
        help="false-accept rate per attempt for tar_at_far (default 0.001)",
    )
    p.add_argument("--repetitions", type=positive_int, default=5, metavar="N", help="random galleries per size")
    p.add_argument("--seed", type=int, default=0, help="of the random galleries (default 0)")
    p.add_argument(
        "--holdout",
        type=int,
        default=None,
        metavar="SEED",
        help="also fit the impostor tail on half of the people (split by identity) and judge it on the other half",
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_accuracy)

    p = bench.add_parser(
        "pairs",
        help="LFW-style pair verification, 10-fold accuracy",
        description=(
            "Verify the pairs of an LFW pairs.txt (first line '<folds> <n>', then per fold n matched lines "
            "'name i j' and n mismatched lines 'name1 i name2 j'); each fold is scored at the threshold that is "
            "most accurate on the other folds. --json prints one object: model, folds, pairs, no_face, accuracy, "
            "accuracy_std, threshold, fold_accuracy."
        ),
    )
    p.add_argument("--pairs", type=Path, required=True, metavar="FILE", help="an LFW-format pairs.txt")
    p.add_argument("--root", type=Path, required=True, metavar="DIR", help="DIR/<name>/<name>_0001.jpg ...")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_pairs)

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
    p.add_argument("--frames", type=positive_int, default=200, metavar="N", help="measured frames (default 200)")
    p.add_argument("--warmup", type=non_negative_int, default=10, metavar="N", help="unmeasured first frames")
    p.add_argument(
        "--store-size",
        type=non_negative_int,
        default=100,
        metavar="N",
        help="match against N synthetic templates, 5 per person (default 100)",
    )
    p.add_argument(
        "--frame-size",
        type=frame_size,
        default=(640, 480),
        metavar="WxH",
        help="letterbox every frame onto this canvas (default 640x480), or 'native' to keep the decoded size",
    )
    p.add_argument("--threads", type=positive_int, default=None, metavar="N", help="override runtime.threads")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_speed)

    p = bench.add_parser(
        "liveness",
        help="liveness error rates (APCER, BPCER) on real and attack photos",
        description=(
            "Score the largest face of every photo with the configured liveness models and report ISO/IEC 30107-3 "
            "rates: APCER (attacks accepted / attacks, per --spoof folder; the headline is the worst folder) and "
            "BPCER (bona fide refused / bona fide), with counts, the threshold, a score histogram and ms per face. "
            "Photos without a face are counted apart and left out of both rates. With a manifest (pad-dev's "
            "manifest.csv, found beside the folders or given with --manifest) the rates are also given per source "
            "and subject; 95 % intervals resample subjects. The JSON adds manifest, half, subjects, ci, by_source, "
            "by_subject, operating_points (thresholds holding BPCER 1/5/10 % here) and levels (the shipped ones)."
        ),
    )
    p.add_argument(
        "--real",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="bona fide photos, searched recursively (a faces/ tree works); repeatable",
    )
    p.add_argument(
        "--spoof",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="attack photos; each folder is one attack species; repeatable",
    )
    p.add_argument(
        "--threshold", type=unit_interval, default=None, metavar="T", help="default: liveness.threshold or level"
    )
    p.add_argument("--manifest", type=Path, default=None, metavar="CSV", help="default: a manifest.csv beside DIRs")
    p.add_argument(
        "--half", choices=("dev", "held-out"), default=None, help="only this half of pad-dev's subject split"
    )
    p.add_argument("--plot", type=Path, default=None, metavar="PNG", help="write the DET curve here")
    p.add_argument(
        "--by-source",
        action="store_true",
        help="leave-one-source-out: each source scored by a screen cue fitted without it; rates per capture "
        "kind (whole frame, crop, video) and species, intervals over sources (needs manifests)",
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_liveness)
    return bench
