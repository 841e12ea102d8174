"""Every MQTT topic name edgeface uses, built in this one place.

Topics, under ``<prefix>`` (``mqtt.prefix``, default ``edgeface/<device_id>``)::

    <prefix>/event          out: one JSON object per decision (Event.to_dict()), QoS 1, not retained
    <prefix>/availability   out: "online" / "offline", retained; "offline" is also the last will
    <prefix>/door           out: "locked" / "unlocked", retained, on every relay change and first on connect;
                                 also "locked" from `edgeface relay lock`
    <prefix>/presence       out: "ON" / "OFF", retained, while a face is / is not in front of the camera
    <prefix>/health         out: {"camera": "online"|"offline", "broker": "online"}, retained, on every change
                                 and on connect: whether frames arrive (Home Assistant's connectivity sensor)
    <prefix>/snapshot       out: the JPEG face crop of the last decision, retained; only with mqtt.snapshot
    <prefix>/cmd/unlock     in:  empty, or {"seconds": n}; only with mqtt.remote_unlock.enabled;
                                 signed (ts, nonce, hmac) when a secret is set: see edgeface.mqtt.commands;
                                 or LOCK (always taken, never signed): end an unlock now
    <prefix>/cmd/reload     in:  empty, or {}; signed (ts, nonce, hmac) when a secret is set

Home Assistant discovery (see :mod:`edgeface.mqtt.discovery`), retained, outside the prefix::

    homeassistant/<component>/edgeface_<device_id>/<object_id>/config

A prefix is checked when the config is loaded and again when :class:`Topics` is made, by the same rule
(:func:`edgeface.config.mqtt.prefix_problem`): a wildcard (``+``, ``#``) would make the daemon
subscribe to other doors' commands, and a leading ``$`` or ``/`` or a trailing ``/`` names topics
that brokers reserve or that no subscriber expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from edgeface.config.mqtt import prefix_problem
from edgeface.errors import ConfigError
from edgeface.mqtt.commands import CommandName

__all__ = ["DISCOVERY_PREFIX", "Topics", "discovery_topic"]

DISCOVERY_PREFIX = "homeassistant"
"""Home Assistant's default discovery prefix."""


@dataclass(frozen=True)
class Topics:
    """The topic names under one prefix; raises ConfigError (naming ``mqtt.prefix``) for an unusable one."""

    prefix: str

    def __post_init__(self) -> None:
        if problem := prefix_problem(self.prefix):
            raise ConfigError(f"mqtt.prefix: {problem}")

    @classmethod
    def for_device(cls, device_id: str, prefix: str | None = None) -> Topics:
        """The topics under ``prefix``, or under the default ``edgeface/<device_id>`` when it is None or empty."""
        return cls(prefix or f"edgeface/{device_id}")

    @property
    def event(self) -> str:
        return f"{self.prefix}/event"

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    @property
    def door(self) -> str:
        return f"{self.prefix}/door"

    @property
    def presence(self) -> str:
        return f"{self.prefix}/presence"

    @property
    def health(self) -> str:
        return f"{self.prefix}/health"

    @property
    def snapshot(self) -> str:
        return f"{self.prefix}/snapshot"

    def command(self, name: CommandName) -> str:
        return f"{self.prefix}/cmd/{name}"

    @property
    def commands(self) -> dict[CommandName, str]:
        """Every command's topic, by command."""
        return {name: self.command(name) for name in get_args(CommandName)}


def discovery_topic(component: str, device_id: str, object_id: str) -> str:
    """The retained config topic through which Home Assistant learns (or forgets) one entity of a door."""
    return f"{DISCOVERY_PREFIX}/{component}/edgeface_{device_id}/{object_id}/config"
