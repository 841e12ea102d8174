"""Running and operating the door: the daemon, the relay, the config."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeface.cli.common import Subparsers
from edgeface.cli.lock import relay_lock
from edgeface.cli.output import print_json
from edgeface.config import Config, default_config_path, load_config
from edgeface.errors import EdgefaceError


def _check_config(path: Path | None) -> None:
    """Everything ``edgeface run`` checks before it starts; ConfigError (or another EdgefaceError) if not."""
    from edgeface.daemon.preflight import check_model_files
    from edgeface.models.checksums import file_sha256

    checked = load_config(path)
    check_model_files(checked)  # the same checks as `edgeface run`: present, and nobody else can change them
    for name in (checked.detector.model, checked.profile.model):
        file_sha256(checked.model_path(name))
    checked.mqtt.remote_unlock.shared_secret()  # a too-short $EDGEFACE_UNLOCK_SECRET is an error too
    checked.web.access_token()  # and $EDGEFACE_WEB_TOKEN
    if checked.fleet.enabled:
        from edgeface.mqtt.fleet import record_key

        record_key(checked.fleet, signing=checked.fleet.role == "admin")  # so is a fleet without its key


def cmd_config_check(args: argparse.Namespace, cfg: Config) -> int:
    # The file checked: PATH, else the active config (--config, $EDGEFACE_CONFIG, /etc), else none at all.
    path = args.path or args.config or default_config_path()
    name = str(path) if path is not None else "(embedded defaults: no config file)"
    if not args.json:
        _check_config(path)
        print(f"{name}: ok")
        return 0
    try:
        _check_config(path)
    except EdgefaceError as exc:
        problems = str(exc).splitlines()
    else:
        problems = []
    print_json({"config": str(path) if path is not None else None, "ok": not problems, "problems": problems})
    return 1 if problems else 0


def cmd_config_show(args: argparse.Namespace, cfg: Config) -> int:
    # As config check: PATH, else the active config (own_config, so that PATH alone is read).
    shown = load_config(args.path or args.config)
    print(json.dumps(shown.model_dump(mode="json"), indent=2))
    return 0


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.app import run_daemon

    return run_daemon(cfg, args.config)


def cmd_relay_lock(args: argparse.Namespace, cfg: Config) -> int:
    # main() takes the quicker way to the same function (edgeface.cli.relay_lock_args); ``cfg`` is unused, as
    # the lock reads only the sections it needs (own_config), so that a broken one elsewhere cannot stop it.
    return relay_lock(args.config)


def register(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="run the door daemon")
    p.set_defaults(func=cmd_run)

    relay = sub.add_parser("relay", help="drive the door relay").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = relay.add_parser("lock", help="release the relay (door locked) and exit")
    p.set_defaults(func=cmd_relay_lock, own_config=True)

    config = sub.add_parser("config", help="check or show the configuration").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = config.add_parser("check", help="validate a config file and its model files")
    p.add_argument("path", nargs="?", type=Path, help="the file to check (default: the active config)")
    p.add_argument("--json", action="store_true", help='print {"config", "ok", "problems"}, also when it fails')
    # The file under test is loaded by the command, so that its errors are the command's output (--json).
    p.set_defaults(func=cmd_config_check, own_config=True)
    p = config.add_parser("show", help="print the effective config as JSON")
    p.add_argument("path", nargs="?", type=Path, help="the file to show (default: the active config)")
    p.set_defaults(func=cmd_config_show, own_config=True)
