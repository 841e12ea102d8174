"""``edgeface relay lock``: the fail-secure command systemd runs as ``ExecStopPost`` after every stop or crash.

It runs on every stop, so it must be quick, and it must lock the door whatever else is wrong. So it reads
only the ``relay`` section of the config file, validated with the same :class:`RelayConfig` as the daemon
(an unknown or bad key there is an error naming it: guessing a pin or its polarity could *unlock* a door),
drives the relay locked, and only then, best effort, reads ``mqtt`` and ``device_id`` to replace a stale
retained ``unlocked`` on the broker. A broken section elsewhere in the file never stops the lock, nor does a
file that does not parse elsewhere (the ``relay`` section is then parsed alone: see
:func:`~edgeface.config.source.read_relay_source`); neither does a broken ``mqtt`` section (a warning, and
nothing is published). The rest of the config package, the
vision stack and the MQTT client are not imported before the door is locked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edgeface.errors import ConfigError, EdgefaceError

if TYPE_CHECKING:
    from edgeface.config.source import ConfigSource

RELAY_LOCK_BROKER_SECONDS = 2.0
"""How long each step of telling the broker may take after ``relay lock``: it runs on every service stop."""


def relay_lock(path: Path | None) -> int:
    """Lock the relay the config file at ``path`` (default: the active config) names; 0 once it is locked."""
    # pydantic's documented switch: no scan of every installed package's metadata for plugins, which only
    # observe validation (3 ms with 40 packages, more on an SD card); an operator's own setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from edgeface.config.relay import RelayConfig
    from edgeface.config.source import read_relay_source
    from edgeface.door.relay import DoorRelay, make_pin_factory

    source, broken = read_relay_source(path)
    relay_cfg = source.section("relay", RelayConfig)
    factory = make_pin_factory(relay_cfg.pin_factory, relay_cfg.chip)
    try:
        with DoorRelay.from_config(relay_cfg, factory) as relay:
            relay.lock()
    finally:
        factory.close()
    print(f"relay on {relay_cfg.where} locked")
    if broken is not None:  # the mqtt section could not be read with the rest: nothing to report to
        print(f"edgeface: warning: not reporting the door locked: {broken.splitlines()[0]}", file=sys.stderr)
    else:
        _report_locked(source)
    return 0


def _report_locked(source: ConfigSource) -> None:
    """Publish ``locked``, retained, on the door's topic. Best effort: the relay is what counts, so nothing
    here fails the command."""
    from pydantic import TypeAdapter

    from edgeface.config.base import DEFAULT_DEVICE_ID, DeviceId
    from edgeface.config.mqtt import MqttConfig

    try:
        mqtt = source.section("mqtt", MqttConfig)
        if not mqtt.enabled:
            return
        device_id = source.value("device_id", TypeAdapter[str](DeviceId), DEFAULT_DEVICE_ID)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"edgeface: warning: not reporting the door locked: {line}", file=sys.stderr)
        return
    # Only now, with the door locked, the MQTT client is imported: a daemon killed during a pulse left a
    # retained "unlocked" on the broker.
    from edgeface.mqtt.connect import publish_retained
    from edgeface.mqtt.topics import Topics
    from edgeface.values import DoorState

    topic = Topics(mqtt.topic_prefix(device_id)).door
    try:
        publish_retained(mqtt, topic, DoorState.LOCKED.value, purpose="relay-lock", timeout=RELAY_LOCK_BROKER_SECONDS)
    except (EdgefaceError, OSError, ValueError) as exc:  # unreachable, refused, bad TLS files
        print(f"edgeface: warning: could not report the door locked on {topic}: {exc}", file=sys.stderr)
    else:
        print(f"{topic}: locked (retained)")
