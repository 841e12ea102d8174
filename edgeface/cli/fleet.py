"""``edgeface fleet``: share one enrolment between doors through the broker (push, pull, status, rules)."""

from __future__ import annotations

import argparse
import time
from datetime import time as dtime
from pathlib import Path

from edgeface.cli.common import Subparsers, open_store
from edgeface.cli.output import print_json
from edgeface.config import WEEKDAYS, Config, Window
from edgeface.errors import EdgefaceError


def _model(cfg: Config) -> tuple[str, str] | None:
    from edgeface.models.checksums import file_sha256

    path = cfg.model_path(cfg.profile.model)
    return (cfg.profile.name, file_sha256(path)) if path.is_file() else None


def cmd_push(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.ops.fleet import push

    pushed = push(cfg, args.names, _model(cfg), allow_similar=args.allow_similar)
    if args.json:
        print_json({"site": cfg.fleet.site, "people": pushed.people, "tombstones": pushed.tombstones})
    else:
        print(f"pushed {pushed.people} people and {pushed.tombstones} removals to site {cfg.fleet.site}")
    return 0


def cmd_pull(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.ops.fleet import pull

    pulled = pull(cfg, _model(cfg), args.settle)
    if args.json:
        print_json({"site": cfg.fleet.site, **pulled.__dict__})
    else:
        print(
            f"site {cfg.fleet.site}: {pulled.applied} records taken, {pulled.unchanged} already held, "
            f"{pulled.refused} refused; {pulled.people} people in {cfg.store_path}"
            + (f", {pulled.withheld} withheld until the fleet confirms them" if pulled.withheld else "")
        )
    return 1 if pulled.refused else 0


def _age(ts: float | None) -> str:
    return "never" if ts is None else f"{max(0.0, time.time() - ts):.0f} s ago"


def cmd_status(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.ops.fleet import status

    state = status(cfg, args.settle)
    if args.json:
        doors = [{**d.__dict__, "in_sync": ok, "signed": d.device not in state.unsigned} for d, ok in state.doors]
        summary = {k: v for k, v in state.__dict__.items() if k != "doors"}
        print_json({**summary, "doors": doors})
        return 0
    print(f"site {state.site}: {state.people} people, {state.records} records (digest {state.digest})")
    if state.refused:
        print(f"  {state.refused} retained records do not verify (see the log)")
    if state.missing:
        shown = ", ".join(state.missing[:10]) + (" …" if len(state.missing) > 10 else "")
        print(f"  {len(state.missing)} records held here are missing from the broker (fleet push): {shown}")
    for door, ok in state.doors:
        other = f", {door.other_model} for another model" if door.other_model else ""
        other += ", status UNSIGNED (not from a holder of the site's key)" if door.device in state.unsigned else ""
        print(
            f"  {door.device:<20} {door.role:<6} {'in sync' if ok else 'NOT in sync':<12} {door.people} people{other}; "
            f"last sync {_age(door.last_sync)}, {door.refused} refused, status {_age(door.ts)}"
        )
    if not state.doors:
        print("  no door has announced itself yet")
    return 0


def _days(text: str) -> list[str]:
    if text == "all":
        return list(WEEKDAYS)
    days: list[str] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise argparse.ArgumentTypeError(f"unknown day in {text!r}: use mon..sun, ranges (mon-fri) or all")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days += [WEEKDAYS[(a + i) % 7] for i in range((b - a) % 7 + 1)]
    return days


def window(text: str) -> Window:
    """``DAYS HH:MM-HH:MM``, e.g. ``mon-fri 08:00-18:00`` or ``sat,sun 10:00-14:00``."""
    try:
        days, hours = text.split()
        start, end = (dtime.fromisoformat(t) for t in hours.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected DAYS HH:MM-HH:MM (e.g. 'mon-fri 08:00-18:00'), not {text!r}"
        ) from None
    return Window.model_validate({"days": _days(days), "start": start, "end": end})


def cmd_rules(args: argparse.Namespace, cfg: Config) -> int:
    if args.doors is None and args.window is None and not (args.any_door or args.always):
        raise EdgefaceError("nothing to set: give --doors/--any-door and/or --window/--always")
    with open_store(cfg) as store:
        held = next((r for r in store.records([args.name]) if not r.deleted), None)
        if held is None:
            raise EdgefaceError(f"no enrolled person called {args.name!r}")
        doors = held.doors if args.doors is None and not args.any_door else (tuple(args.doors) if args.doors else None)
        schedule = held.schedule if args.window is None and not args.always else (tuple(args.window or ()) or None)
        store.set_rules(args.name, doors, schedule)
    where = ", ".join(doors) if doors is not None else "every door"
    when = "; ".join(f"{','.join(w.days)} {w.start}-{w.end}" for w in schedule) if schedule else "at any time"
    print(f"{args.name}: {where}, {when} (edgeface fleet push {args.name} to send it)")
    return 0


def cmd_keygen(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.mqtt.fleet import generate_keypair

    public = generate_keypair(args.path)
    print(f"wrote the private key to {args.path} (0600): it stays on the admin, as fleet.private_key_file")
    print(f"fleet.public_key for every device of the site: {public}")
    return 0


def register(sub: Subparsers) -> None:
    fleet = sub.add_parser("fleet", help="share one enrolment between doors (see docs/fleet.md)").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = fleet.add_parser("push", help="admin: publish the local people (and removals) to the site")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these people (default: everyone)")
    p.add_argument(
        "--allow-similar", action="store_true", help="push although a face passes for another person (twins)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_push)
    p = fleet.add_parser("pull", help="take the site's records into the local store once")
    p.add_argument("--settle", type=float, default=0.5, help="seconds of quiet that end the retained records")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_pull)
    p = fleet.add_parser("status", help="every door: people in sync, last sync, refusals")
    p.add_argument("--settle", type=float, default=0.5, help="seconds of quiet that end the retained records")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = fleet.add_parser("rules", help="admin: the doors and times that let a person in")
    p.add_argument("name")
    p.add_argument("--doors", nargs="+", metavar="DEVICE_ID", help="only these doors (device ids)")
    p.add_argument("--any-door", action="store_true", help="every door (clears --doors)")
    p.add_argument("--window", type=window, action="append", metavar="'DAYS HH:MM-HH:MM'", help="repeatable")
    p.add_argument("--always", action="store_true", help="at any time (clears --window)")
    p.set_defaults(func=cmd_rules)
    p = fleet.add_parser("keygen", help="admin: make an Ed25519 key pair for fleet.signature: ed25519")
    p.add_argument("path", type=Path, help="where to write the private key (must not exist)")
    p.set_defaults(func=cmd_keygen)
