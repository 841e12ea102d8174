"""Secrets and credentials from the environment are checked as strictly as those in the file.

A unit file's ``EnvironmentFile`` may hold anything: 16 spaces, bytes that are not UTF-8, a password
longer than MQTT allows. Each is one error line from ``config check`` and from ``run``, never a door
that starts and then crashes, or runs on without its broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_edgeface
from tests.support.configs import write_config

NOT_UTF8 = b"\xff\xfe-not-utf-8-at-all".decode("utf-8", "surrogateescape")
"""How Python hands a program an environment value that is not UTF-8."""


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("EDGEFACE_UNLOCK_SECRET", " " * 16, "EDGEFACE_UNLOCK_SECRET: begins or ends with white space"),
        ("EDGEFACE_UNLOCK_SECRET", NOT_UTF8, "EDGEFACE_UNLOCK_SECRET: is not valid UTF-8"),
        ("EDGEFACE_FLEET_KEY", " " * 16, "EDGEFACE_FLEET_KEY: begins or ends with white space"),
        ("EDGEFACE_FLEET_KEY", NOT_UTF8, "EDGEFACE_FLEET_KEY: is not valid UTF-8"),
        ("EDGEFACE_FLEET_KEY", "", "EDGEFACE_FLEET_KEY: is empty"),
        ("EDGEFACE_WEB_TOKEN", "", "EDGEFACE_WEB_TOKEN: is empty"),
        ("EDGEFACE_WEB_TOKEN", "short", "EDGEFACE_WEB_TOKEN: must have at least 16 characters"),
        ("EDGEFACE_MQTT_PASSWORD", NOT_UTF8, "mqtt.password: Value error, is not valid UTF-8"),
        ("EDGEFACE_MQTT_PASSWORD", "p" * 100_000, "mqtt.password: Value error, is 100000 bytes, more than 65535"),
    ],
    ids=[
        "spaces",
        "unlock-not-utf8",
        "fleet-spaces",
        "fleet-not-utf8",
        "fleet-empty",
        "web-empty",
        "web-short",
        "password-not-utf8",
        "100k",
    ],
)
def test_a_hostile_environment_value_is_one_error_line_from_config_check(
    tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    config = write_config(
        tmp_path / "edgeface.yaml",
        mqtt={"enabled": True, "username": "door", "remote_unlock": {"enabled": True}},
        fleet={"enabled": True, "site": "office"},
        # A fleet over a broker on this machine needs no TLS; the key comes from the environment.
    )
    done = run_edgeface("--config", str(config), "config", "check", env={variable: value})
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"edgeface: error: {config}: {problem}") or line.startswith(f"edgeface: error: {problem}")


def test_a_password_longer_than_mqtt_allows_stops_run_before_it_starts(tmp_path: Path) -> None:
    config = write_config(tmp_path / "edgeface.yaml", mqtt={"enabled": True, "username": "door"})
    done = run_edgeface("--config", str(config), "run", timeout=30, env={"EDGEFACE_MQTT_PASSWORD": "p" * 100_000})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"edgeface: error: {config}: mqtt.password: Value error, is 100000 bytes, more than 65535 "
        "(set in the file or, for the password, in EDGEFACE_MQTT_PASSWORD)"
    ]
