"""``edgeface bench enrolment``: the refusal rates of enrolment's checks on a labelled faces/ folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeface.cli.common import Subparsers, positive_int, progress
from edgeface.cli.output import print_json
from edgeface.config import Config


def cmd_bench_enrolment(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.bench.enrolment import TARGETS, run_enrolment
    from edgeface.vision.recognize import Recognizer

    with Recognizer.from_config(cfg) as recognizer:
        report = run_enrolment(
            recognizer,
            args.faces,
            trials=args.trials,
            seed=args.seed,
            cache=args.cache,
            progress=lambda photos: progress(photos, "embedding"),
        )
    if args.json:
        print_json(report.to_dict())
        return 0
    passed = report.passed()
    print(
        f"{report.model} on {report.faces}: {report.people} people enrolled with their first photo "
        f"({report.left_out} left out); verification threshold {report.verify_threshold:.3f}, "
        f"door threshold {report.door_threshold:.3f}"
    )
    rows = (
        (
            "(a) another person's photo added",
            report.wrong_face,
            f">= {TARGETS['wrong_face_refused']:.0%}",
            "wrong_face_refused",
        ),
        (
            "(b) second photo under a new name",
            report.same_face,
            f">= {TARGETS['same_face_refused']:.0%}",
            "same_face_refused",
        ),
        ("own second photo added", report.genuine, f"<= {TARGETS['genuine_refused']:.0%}", "genuine_refused"),
        ("stranger under a new name", report.strangers, "", ""),
    )
    for label, rate, target, key in rows:
        verdict = ("met" if passed[key] else "MISSED") if key else ""
        print(f"{label:<36} refused {rate.refused:>4}/{rate.trials:<4} {rate.rate:7.2%}  {target:>6} {verdict}")
    return 0


def register(bench: Subparsers) -> None:
    p = bench.add_parser(
        "enrolment",
        help="how often enrolment refuses a wrong face, a second name, and a genuine photo",
        description=(
            "Enrol each person's first photo, then offer (a) another person's photo as a template of TRIALS people, "
            "(b) TRIALS people's second photo under a new name, every person's own second photo, and up to TRIALS "
            "unknown/ photos under a new name, each judged by enrolment's checks. --json prints one object: model, "
            "faces, people, left_out, verify_threshold, verify_far, door_threshold, wrong_face, same_face, genuine, "
            "strangers (each {refused, trials, rate}), seed, targets and passed."
        ),
    )
    p.add_argument("--faces", type=Path, required=True, help="DIR/<person>/*.jpg (two photos or more) and DIR/unknown/")
    p.add_argument("--trials", type=positive_int, default=500, metavar="N", help="offers of each kind (default 500)")
    p.add_argument("--seed", type=int, default=0, help="of the random draws (default 0)")
    p.add_argument("--cache", type=Path, default=None, metavar="FILE.npz", help="keep the embeddings here between runs")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_bench_enrolment)
