"""The ``edgeface`` command: argument parsing and output formatting only.

Each module of this package registers a group of commands; every command is
a small function taking the parsed arguments and the loaded config, and the
work is done by the library modules. Errors edgeface raises on purpose
become one ``edgeface: error: ...`` line per problem and exit status 1, or 2 for
a :class:`UsageError` (as argparse's usage errors); a mistyped command or choice
gets the closest one suggested. Ctrl-C ends a command with status 130. A reader
that goes away early (``edgeface people list | head``) ends the command quietly
with status 141, as a shell reports SIGPIPE.

The global options (``-c/--config``, ``-v``) are accepted before the command and after it, where a user types
them (``edgeface run --config x.yaml``): the latter wins for ``--config``, and ``-v`` counts wherever it is.

``relay lock``, which systemd runs after every stop, is recognised before the full parser is built: building
it imports every command module and so the whole config schema, which the lock neither needs nor may depend
on (see :mod:`edgeface.cli.lock`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeface import __version__
from edgeface.cli.output import did_you_mean, error_lines
from edgeface.errors import EdgefaceError, UsageError

if TYPE_CHECKING:
    from edgeface.cli.common import CommandFunc

ALWAYS_INFO = ("edgeface.daemon.events",)
"""Loggers at INFO even without -v: every decision (``decision type=...``) belongs in the journal."""


def configure_logging(verbosity: int) -> None:
    """One handler for the whole process; journald adds its own timestamps under systemd.

    Warnings and errors by default, more with each ``-v``. At INFO always: the decisions of
    :data:`ALWAYS_INFO`, and the lines of the daemon's life that are logged with ``extra=JOURNAL``.
    """
    level = max(logging.DEBUG, logging.WARNING - 10 * verbosity)
    under_systemd = "JOURNAL_STREAM" in os.environ or "INVOCATION_ID" in os.environ
    fmt = "%(levelname)s %(name)s: %(message)s" if under_systemd else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    if level > logging.INFO:
        handler.addFilter(_journal_lines)
    logging.basicConfig(level=min(level, logging.INFO), handlers=[handler])


def _journal_lines(record: logging.LogRecord) -> bool:
    """Without -v: warnings and errors, and the INFO lines that belong in the journal."""
    return record.levelno >= logging.WARNING or record.name in ALWAYS_INFO or bool(getattr(record, "journal", False))


EXIT_USAGE = 2
"""What argparse exits with for a command line it cannot parse; a :class:`UsageError` of a command too."""
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a command whose reader closed the pipe."""


class Parser(argparse.ArgumentParser):
    """argparse with a suggestion for a mistyped choice (``peple`` → ``people``); subcommands inherit it."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            hint = did_you_mean(str(value), choices)
            message = f"invalid choice: {value!r}{hint} (choose from {', '.join(choices)})"
            raise argparse.ArgumentError(action, message)


VERBOSE_AFTER_COMMAND = "verbose_after_command"
"""Where ``-v`` given after the command is counted: a subcommand parses into a namespace of its own, whose
values replace the main parser's, so a count of its own is added, not replaced (``edgeface -v run -v`` is -vv)."""


def _add_global_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    # After the command no default: an option not repeated there must not replace one given before it.
    default: Any = argparse.SUPPRESS if after_command else None
    parser.add_argument(
        "-c", "--config", type=Path, default=default, help="config file (default: $EDGEFACE_CONFIG, /etc/edgeface)"
    )
    verbose_dest = VERBOSE_AFTER_COMMAND if after_command else "verbose"
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        dest=verbose_dest,
        default=argparse.SUPPRESS if after_command else 0,
        help="more log output (-vv for debug)",
    )


def _command_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser that ends a command line (``run``, ``people list``, ...), below ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # an alias maps to the same parser
                children = list(_command_parsers(child))
                yield from children or [child]


def build_parser() -> argparse.ArgumentParser:
    from edgeface.cli import bench, bench_enrolment, enroll, faces, fleet, models, ops, people, tools

    description = "Face-recognition access control for the edge."
    parser: argparse.ArgumentParser = Parser(prog="edgeface", description=description)
    parser.add_argument("--version", action="version", version=f"edgeface {__version__}")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    enroll.register(sub)
    faces.register(sub)
    people.register(sub)
    bench_enrolment.register(bench.register(sub))
    fleet.register(sub)
    models.register(sub)
    ops.register(sub)
    tools.register(sub)
    for command in _command_parsers(parser):
        _add_global_options(command, after_command=True)
    return parser


def verbosity(args: argparse.Namespace) -> int:
    """The number of ``-v`` before and after the command."""
    return int(args.verbose) + int(getattr(args, VERBOSE_AFTER_COMMAND, 0))


def relay_lock_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The global options of ``edgeface [OPTIONS] relay lock [OPTIONS]``, or None for any other command line.

    Anything else, ``relay lock --help`` or a misspelling included, goes to the full parser, which also
    knows ``relay lock`` and gives the same command.
    """
    parser = argparse.ArgumentParser(prog="edgeface", add_help=False, allow_abbrev=False, exit_on_error=False)
    _add_global_options(parser)
    parser.add_argument("words", nargs="*")
    try:
        args, unknown = parser.parse_known_intermixed_args(argv)
    except argparse.ArgumentError:  # a bad global option: the full parser says what is wrong
        return None
    return args if args.words == ["relay", "lock"] and not unknown else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if (fast := relay_lock_args(argv)) is not None:
        from edgeface.cli.lock import relay_lock

        configure_logging(fast.verbose)
        return _finish(lambda: relay_lock(fast.config))
    args = build_parser().parse_args(argv)
    configure_logging(verbosity(args))
    func: CommandFunc = args.func

    def call() -> int:
        from edgeface.config import Config, load_config

        cfg = Config() if getattr(args, "own_config", False) else load_config(args.config)
        return func(args, cfg)

    return _finish(call)


def _finish(command: Callable[[], int]) -> int:
    """Run a command: its exit status, or the status and one line per problem for what it raised."""
    try:
        status = command()
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return status
    except EdgefaceError as exc:
        for line in error_lines(str(exc)):
            print(line, file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The recipe of the signal module's docs: point stdout at /dev/null so that the interpreter's
        # own flush at exit cannot raise again, and end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
