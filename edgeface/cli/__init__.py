"""The ``edgeface`` command: argument parsing and output formatting only.

Each module of this package registers a group of commands; every command is
a small function taking the parsed arguments and the loaded config, and the
work is done by the library modules. Errors edgeface raises on purpose
become one ``edgeface: error: ...`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from edgeface import __version__
from edgeface.cli import bench, fleet, models, ops, people, tools
from edgeface.cli.common import CommandFunc
from edgeface.config import Config, load_config
from edgeface.errors import EdgefaceError

ALWAYS_INFO = ("edgeface.daemon.events",)
"""Loggers at INFO even without -v: every decision (``decision type=...``) belongs in the journal."""


def configure_logging(verbosity: int) -> None:
    """One handler for the whole process; journald adds its own timestamps under systemd.

    Warnings and errors by default, more with each ``-v``; the decisions of :data:`ALWAYS_INFO` always.
    """
    level = max(logging.DEBUG, logging.WARNING - 10 * verbosity)
    under_systemd = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s" if under_systemd else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    for name in ALWAYS_INFO:
        logging.getLogger(name).setLevel(min(level, logging.INFO))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeface", description="Face-recognition access control for the edge.")
    parser.add_argument("--version", action="version", version=f"edgeface {__version__}")
    parser.add_argument("-c", "--config", type=Path, help="config file (default: $EDGEFACE_CONFIG, /etc/edgeface)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    people.register(sub)
    bench.register(sub)
    fleet.register(sub)
    models.register(sub)
    ops.register(sub)
    tools.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    func: CommandFunc = args.func
    try:
        own = getattr(args, "own_config", False) and getattr(args, "path", None)
        cfg = Config() if own else load_config(args.config)
        return func(args, cfg)
    except EdgefaceError as exc:
        print(f"edgeface: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
