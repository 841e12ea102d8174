"""Running and operating the door: the daemon, the relay, the config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeface.cli.common import Subparsers
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
    print(json.dumps(cfg.model_dump(mode="json"), indent=2))
    return 0


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.app import run_daemon

    return run_daemon(cfg, args.config)


RELAY_LOCK_BROKER_SECONDS = 2.0
"""How long each step of telling the broker may take after ``relay lock``: it runs on every service stop."""


def cmd_relay_lock(args: argparse.Namespace, cfg: Config) -> int:
    from edgeface.door.relay import DoorRelay, make_pin_factory

    factory = make_pin_factory(cfg.relay.pin_factory)
    try:
        with DoorRelay.from_config(cfg.relay, factory) as relay:
            relay.lock()
    finally:
        factory.close()
    print(f"relay on GPIO{cfg.relay.pin} locked")
    if cfg.mqtt.enabled:
        # Only now, with the door locked, the MQTT client is imported: a daemon killed during a pulse left a
        # retained "unlocked" on the broker. Best effort: the relay is what counts, so this never fails the command.
        from edgeface.mqtt.connect import publish_retained
        from edgeface.mqtt.topics import Topics
        from edgeface.values import DoorState

        topic = Topics(cfg.topic_prefix).door
        try:
            publish_retained(
                cfg.mqtt, topic, DoorState.LOCKED.value, purpose="relay-lock", timeout=RELAY_LOCK_BROKER_SECONDS
            )
        except (EdgefaceError, OSError, ValueError) as exc:  # unreachable, refused, bad TLS files
            print(f"edgeface: warning: could not report the door locked on {topic}: {exc}", file=sys.stderr)
        else:
            print(f"{topic}: locked (retained)")
    return 0


def register(sub: Subparsers) -> None:
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
    p.add_argument("path", nargs="?", type=Path, help="the file to check (default: the active config)")
    p.add_argument("--json", action="store_true", help='print {"config", "ok", "problems"}, also when it fails')
    # The file under test is loaded by the command, so that its errors are the command's output (--json).
    p.set_defaults(func=cmd_config_check, own_config=True)
    p = config.add_parser("show", help="print the effective config as JSON")
    p.set_defaults(func=cmd_config_show)
