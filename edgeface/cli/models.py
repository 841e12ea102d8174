"""Model files: list, verify, pull, quantize."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeface.cli.common import Subparsers, progress
from edgeface.cli.output import FAIL, OK, paint_marks, print_json
from edgeface.config import Config
from edgeface.errors import EdgefaceError


def cmd_models_list(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.models.files import catalogue_status, describe, status_row

    checks = catalogue_status(cfg.models_dir)
    if args.json:
        print_json({"models_dir": str(cfg.models_dir), "models": [status_row(e, c) for e, c in checks]})
        return 0
    print(f"models in {cfg.models_dir}:")
    for entry, check in checks:
        print(paint_marks(f"  {describe(entry, check)}"))
    return 0


def cmd_models_verify(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.models.files import configured_checks

    failed = 0
    for check in configured_checks(cfg.model_files()):
        if check.ok:
            pin = "" if check.expected else "  (no SHA-256 pinned)"
            print(paint_marks(f"{OK} {check.role}: {check.path}  sha256 {check.actual}{pin}"))
        else:
            failed += 1
            why = check.problem or f"sha256 {check.actual}, expected {check.expected}"
            print(paint_marks(f"{FAIL} {check.role}: {check.path}  {why}"))
    return 1 if failed else 0


def cmd_models_pull(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.models.files import find, pull

    entry = find(args.name)
    path = pull(entry, args.dest or cfg.models_dir, url=args.url)
    print(f"{path}: sha256 {entry.sha256} ok")
    return 0


def cmd_models_quantize(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.models.profiles import BUILTIN_PROFILES
    from edgeface.ops.quantize import calibration_crops, calibration_photos, profile_for, quantize_model
    from edgeface.vision.recognize import open_detector

    if args.output.resolve() == args.input.resolve():
        raise EdgefaceError(f"{args.output}: the output must not overwrite the input model")
    if args.profile is not None and args.profile not in BUILTIN_PROFILES:
        raise EdgefaceError(f"unknown profile {args.profile!r}; choose one of {', '.join(BUILTIN_PROFILES)}")
    profile = BUILTIN_PROFILES[args.profile] if args.profile else profile_for(args.input, cfg.profile)
    crops, missed = None, 0
    if args.calibration is not None:
        photos = calibration_photos(args.calibration)
        detector = open_detector(cfg)
        try:
            crops, missed = calibration_crops(detector, progress(photos, "calibrating"), profile)
        finally:
            detector.close()
        if not crops:
            raise EdgefaceError(f"{args.calibration}: no face found in any of {len(photos)} photos")
    result = quantize_model(
        args.input,
        args.output,
        profile,
        crops=crops,
        dynamic=args.dynamic,
        photos_without_face=missed,
        reference=args.compare,
    )
    print("\n".join(result.summary(args.input)))
    return 0


def register(sub: Subparsers) -> None:
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
            "edgeface's detector finds and aligns in --calibration DIR (for convolutional models: MobileFaceNet, "
            "FaceNet); or --dynamic, MatMul weights only, which needs no photos (for EdgeFace, whose static copies "
            "lose too much). With --calibration the copy's cosine to the original is measured on those faces."
        ),
    )
    p.add_argument("input", type=Path, metavar="IN.onnx")
    p.add_argument("output", type=Path, metavar="OUT.onnx")
    p.add_argument("--calibration", type=Path, metavar="DIR", help="photos of faces (required for static)")
    p.add_argument("--profile", help="preprocessing profile (default: the one pinned to IN, else the config's)")
    p.add_argument("--dynamic", action="store_true", help="dynamic quantization instead of static")
    p.add_argument(
        "--compare",
        type=Path,
        metavar="REF.onnx",
        help="also measure the cosine to another quantized copy (e.g. the shipped one) on the calibration faces",
    )
    p.set_defaults(func=cmd_models_quantize)
