"""Looking after a door: doctor, the audit log, Home Assistant, a snapshot, threshold calibration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edgeface.cli.common import Subparsers, face_line, face_row, open_store, progress, recognised
from edgeface.cli.output import did_you_mean, mark, paint_marks, plural, print_json
from edgeface.config import Config, default_config_path
from edgeface.errors import CameraError, EdgefaceError, StoreError, UsageError

if TYPE_CHECKING:
    from edgeface.ops.calibrate import Calibration


def cmd_doctor(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.ops.doctor import run_checks

    checks = run_checks(cfg)
    failed = sum(not c.ok for c in checks)
    if args.json:
        print_json({"ok": not failed, "passed": len(checks) - failed, "checks": [c.to_dict() for c in checks]})
        return 1 if failed else 0
    for check in checks:
        print(paint_marks(f"{mark(check.ok)} {check.text()}"))
    print(f"{len(checks) - failed} of {len(checks)} checks passed", file=sys.stderr)
    return 1 if failed else 0


def cmd_log(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.storage.audit import CHANGE_TYPES, AuditLog, parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    with AuditLog(cfg.store_path, cfg.store.audit_retention_days) as audit:
        entries = audit.entries(since=since, person=args.person, limit=args.limit)
        logged = audit.people() if args.person is not None and not entries else []
    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    for e in entries:
        if e.type in CHANGE_TYPES:  # a change to the store: what changed and who changed it, no frames
            print(f"{e.ts}  {e.type:<8} {e.person or '-':<24} {e.reason or ''}")
            continue
        reason = f" ({e.reason})" if e.reason else ""
        print(f"{e.ts}  {e.type:<8} {e.person or '-':<24} similarity {e.similarity:.3f}  frames {e.frames}{reason}")
    if not entries:
        # On stderr, as people list's summary: the output itself stays one line per decision.
        since_text = f" since {args.since}" if args.since else ""
        person_text = f" about {args.person!r}{did_you_mean(args.person, logged)}" if args.person is not None else ""
        print(f"no decisions in the audit log{since_text}{person_text}", file=sys.stderr)
    return 0


def cmd_ha_remove(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.mqtt.connect import connected_client
    from edgeface.mqtt.discovery import removals

    with connected_client(cfg.mqtt, "ha-remove") as client:
        for removal in removals(cfg.device_id, cfg.topic_prefix):
            client.publish(removal.topic, removal.payload, qos=1, retain=True).wait_for_publish(5)
    print(f"removed edgeface {cfg.device_id} from Home Assistant discovery")
    return 0


def cmd_inspect(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.capture.camera import open_camera
    from edgeface.storage.fsperm import write_private
    from edgeface.vision.annotate import annotate
    from edgeface.vision.images import encode_image
    from edgeface.vision.pipeline import FramePipeline
    from edgeface.vision.recognize import Recognizer

    with open_store(cfg) as store, Recognizer.from_config(cfg) as recognizer:
        recognizer.gallery = store.gallery_for(recognizer.embedder)
        with open_camera(cfg.camera, cfg.camera_path) as camera:
            frame = camera.read(args.timeout)
        if frame is None:
            raise CameraError(f"camera ({cfg.camera.source}) gave no frame in {args.timeout:.0f} s")
        outcomes = recognised(FramePipeline(recognizer).process(frame))
    write_private(args.out, encode_image(annotate(frame.image, outcomes), args.out))
    if args.json:
        faces = [face_row(o) for o in outcomes]
        print_json({"out": str(args.out), "threshold": round(recognizer.threshold, 4), "faces": faces})
        return 0
    for outcome in outcomes:
        print(face_line(outcome, cfg.decide.unknown_below))
    print(f"{args.out}: {plural(len(outcomes), 'face', 'faces')}", file=sys.stderr)
    return 0


def cmd_calibrate(args: argparse.Namespace, cfg: Config) -> int:
    import cv2

    from edgeface.ops.calibrate import OperatingPoint, Scored, calibrate, render_plot, write_impostor_tail
    from edgeface.vision.recognize import Recognizer
    from edgeface.vision.threshold import tail_threshold

    scored = Scored()
    # The photos alone when given: the enrolled templates only when asked for, or when there is nothing else.
    with_enrolled = args.include_enrolled or args.faces is None
    with open_store(cfg) as store, Recognizer.from_config(cfg) as recognizer:
        gallery = store.gallery_for(recognizer.embedder)
        recognizer.gallery = gallery
        in_use = recognizer.threshold_info
        if with_enrolled:
            scored.add_gallery(gallery)
        if args.faces:
            scored.add_photos(recognizer, args.faces, lambda jobs: progress(jobs, "embedding"))
    if not scored.vectors:
        raise EdgefaceError("nothing to calibrate on: enrol people first, or pass --faces DIR")
    what = scored.describe(cfg.store_path, enrolled_left_out=not with_enrolled and gallery.template_count > 0)
    cal = calibrate(scored.stacked(), scored.labels, what.removeprefix("scored: "))
    target_far = args.far if args.far is not None else cfg.match.target_far
    templates = max(1, gallery.template_count)
    per_gallery = (
        {n: tail_threshold(cal.tail, target_far, n) for n in sorted({templates, 100, 1000})} if cal.tail else {}
    )
    in_force = OperatingPoint.at(cal, "in force", in_use.value, templates)
    proposed = OperatingPoint.at(cal, "proposed", per_gallery[templates], templates) if per_gallery else None
    points = [in_force] if proposed is None else [in_force, proposed]
    if args.plot and not cv2.imwrite(str(args.plot), render_plot(cal, points)):
        raise EdgefaceError(f"{args.plot}: cannot write the plot (a .png path in a writable folder?)")
    if args.json:
        data = cal.to_dict()
        data["scored"] = scored.to_dict(cfg.store_path)
        data["target_far"] = target_far
        data["gallery_thresholds"] = [{"templates": n, "threshold": round(v, 4)} for n, v in per_gallery.items()]
        data["in_force"] = {**in_force.to_dict(), "source": in_use.describe()}
        data["proposed"] = {**proposed.to_dict(), "compared": proposed.compared(in_force)} if proposed else None
        print_json(data)
    else:
        print(what)
        _print_calibration(cal, per_gallery, target_far)
        print(f"in force: {in_use.describe()}")
        if proposed is not None:
            print(f"proposed: {proposed.threshold:.4f}, {proposed.against(in_force)}")
        for point in points:
            print(f"  {point.describe()}")
    target = args.write_config or args.config or default_config_path()  # the config in force, if a file
    if cal.tail is None or proposed is None:
        if args.write_config:
            raise EdgefaceError(f"nothing written to {args.write_config}: {cal.tail_problem}")
        return 0
    question = (
        f"write the fitted impostor tail to {target} (match.impostor_tail)? The threshold becomes "
        f"{proposed.threshold:.3f}, {proposed.against(in_force)}. [y/N] "
    )
    if args.write_config or (target is not None and sys.stdin.isatty() and _confirm(question)):
        assert target is not None
        write_impostor_tail(target, cal.tail, target_far)
        print(f"{target}: match.impostor_tail and match.target_far {target_far:g} written")
    return 0


def _print_calibration(cal: Calibration, per_gallery: dict[int, float], target_far: float) -> None:
    print(f"{len(cal.genuine)} genuine and {len(cal.impostor)} impostor pairs; EER {cal.eer:.4f}")
    for far, threshold in cal.thresholds.items():
        print(f"  pair FAR {far:>7.2%}: threshold {threshold:.4f} (accepts {cal.tar[far]:.1%} of genuine pairs)")
    if cal.tail is None:
        print(f"  no impostor tail: {cal.tail_problem}")
        return
    tail = cal.tail
    print(f"  impostor tail: u {tail.u:.4f}, zeta {tail.zeta:g}, sigma {tail.sigma:.4f}, xi {tail.xi:.4f}")
    for n, value in per_gallery.items():
        print(f"  FAR {target_far:g} per attempt with {n} templates: threshold {value:.4f}")


def _confirm(question: str) -> bool:
    return input(question).strip().lower() in {"y", "yes"}


def _far(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"a false-accept rate per attempt is in (0, 0.5], not {value}")
    return value


def register(sub: Subparsers) -> None:
    p = sub.add_parser("doctor", help="check that this device is ready to run the door")
    p.add_argument("--json", action="store_true", help='print {"ok", "passed", "checks": [...]}')
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("log", help="the audit log of door decisions")
    p.add_argument("--since", help="a duration (12h, 7d) or a date/time (2026-11-25T08:00)")
    p.add_argument("--person", help="only this person's decisions")
    p.add_argument("--limit", type=int, default=1000, help="at most this many, the most recent (default 1000)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_log)

    ha = sub.add_parser("ha", help="Home Assistant discovery").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = ha.add_parser("remove", help="delete this door's entities from Home Assistant")
    p.set_defaults(func=cmd_ha_remove)

    p = sub.add_parser("inspect", help="one frame from the camera with boxes, landmarks and names drawn")
    p.add_argument("--out", type=Path, required=True, metavar="snapshot.jpg")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a frame (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object, its faces as identify --json's")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("calibrate", help="fit the embedder's impostor tail (the threshold's basis) on your photos")
    p.add_argument("--faces", type=Path, help="score the photos in DIR/<person>/*.jpg (and DIR/unknown/)")
    p.add_argument("--include-enrolled", action="store_true", help="with --faces: score the enrolled templates too")
    p.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="write the DET curve with the thresholds in force and proposed"
    )
    p.add_argument("--far", type=_far, default=None, help="target FAR per attempt (default: match.target_far)")
    p.add_argument(
        "--write-config", type=Path, metavar="PATH", help="write match.impostor_tail and match.target_far here"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_calibrate)
