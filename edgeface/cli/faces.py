"""``edgeface faces recent``: the faces the running door saw but could not name (see :mod:`edgeface.daemon.recent`)."""

from __future__ import annotations

import argparse

from edgeface.cli.common import Subparsers
from edgeface.cli.output import print_json
from edgeface.config import Config


def cmd_faces_recent(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.daemon.control import ask, control_path

    reply = ask(control_path(cfg), {"op": "recent"})
    faces = reply.get("faces")
    assert isinstance(faces, list)
    if args.json:
        print_json({"faces": faces})
        return 0
    for f in faces:
        closest = f"closest {f['candidate']} ({f['similarity']:.2f})" if f["candidate"] else "nobody enrolled"
        print(f"{f['id']:>4}  {f['time']}  quality {f['quality']:.2f}  {closest}")
    if not faces:
        print("no recent unknown faces (the daemon keeps faces.recent of them, in memory)")
    return 0


def register(sub: Subparsers) -> None:
    faces = sub.add_parser("faces", help="the faces the door saw but could not name").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = faces.add_parser(
        "recent",
        help="the last unknown visits the running daemon keeps in memory (enrol one: enroll NAME --recent ID)",
        description=(
            "Asks the running daemon over its control socket (state_dir/control.sock, this user and root only). "
            '--json prints {"faces": [{"id", "time", "first_seen", "similarity", "candidate", "quality"}]}, newest '
            "first; candidate is the closest enrolled person, not accepted."
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_faces_recent)
