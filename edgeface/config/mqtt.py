"""``mqtt``: the broker connection, topics, the outbox bound and remote commands."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr, field_serializer, field_validator, model_validator

from edgeface.config.base import MIN_SECONDS, Section
from edgeface.errors import ConfigError

ENV_UNLOCK_SECRET = "EDGEFACE_UNLOCK_SECRET"
MIN_SECRET_CHARS = 16
SECRET_MASK = "**********"
"""What a secret prints as (pydantic's own mask for SecretStr)."""


MAX_SECRET_CHARS = 1024
MAX_MQTT_STRING_BYTES = 65535
"""MQTT's limit for a user name or password: a longer one kills paho's network thread at the first connect."""


def text_problem(value: str, max_bytes: int) -> str | None:
    """What makes ``value`` unusable as a credential, or None: a value from the environment is checked here too.

    The environment may hold any bytes: Python gives one that is not UTF-8 as lone surrogates, which pass
    every check until the value is encoded at the first connect or signature.
    """
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "holds control characters"
    return f"is {size} bytes, more than {max_bytes}" if size > max_bytes else None


def secret_problem(secret: str) -> str | None:
    """What is wrong with a shared secret (signed commands, the fleet's key), or None: the one place the rule lives."""
    if not secret:
        return f"is empty (unset it for unsigned commands, or give at least {MIN_SECRET_CHARS} characters)"
    if problem := text_problem(secret, MAX_SECRET_CHARS):
        return problem
    if secret != secret.strip():
        return "begins or ends with white space (a copy-and-paste slip?)"
    return None if len(secret) >= MIN_SECRET_CHARS else f"must have at least {MIN_SECRET_CHARS} characters"


def secret_in_force(env_name: str, value: SecretStr | None) -> str | None:
    """``$env_name`` if it is set, else ``value``; None without either: the one place the rule lives.

    A variable that is set but empty (or otherwise not a usable secret) is an error, not "no secret": a
    unit file line whose value went missing must not silently change what the door accepts.
    """
    env = os.environ.get(env_name)
    if env is not None:
        if problem := secret_problem(env):
            raise ConfigError(f"{env_name}: {problem}")
        return env
    return value.get_secret_value() if value is not None else None


def prefix_problem(prefix: str) -> str | None:
    """What makes ``prefix`` unusable as a topic prefix, or None: the one place the rule lives.

    A wildcard (``+``, ``#``) would make the daemon subscribe to other doors' commands, and a leading
    ``$`` or ``/`` or a trailing ``/`` names topics that brokers reserve or that no subscriber expects.
    """
    if not prefix or prefix.startswith(("/", "$")) or prefix.endswith("/") or any(c in prefix for c in "+#\0"):
        return f"{prefix!r} is not a usable topic prefix (no + # wildcards, no leading $ or /, no trailing /)"
    return None


class TlsConfig(Section):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = Field(False, description="Skip hostname verification (testing only).")


class RemoteUnlockConfig(Section):
    enabled: bool = Field(False, description="Accept cmd/unlock over MQTT.")
    max_seconds: float = Field(10.0, ge=MIN_SECONDS, le=300.0, description="Longest unlock a command may ask for.")
    secret: SecretStr | None = Field(
        None,
        description=f"Shared secret (at least {MIN_SECRET_CHARS} characters): unlocks must then be signed "
        f"(HMAC-SHA256, see edgeface.mqtt.commands). Or set {ENV_UNLOCK_SECRET}.",
    )
    max_age_seconds: float = Field(
        30.0, ge=1.0, le=3600.0, description="Signed unlocks older (or further in the future) than this are refused."
    )
    per_minute: int = Field(6, ge=1, le=600, description="Remote unlocks acted on per minute; more are refused.")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (problem := secret_problem(value.get_secret_value())):
            raise ValueError(problem)
        return value

    def shared_secret(self) -> str | None:
        """The secret in force: ``$EDGEFACE_UNLOCK_SECRET`` if set, else ``secret``; None for unsigned commands.

        A variable that is set but empty is an error, not "no secret": a unit file line
        ``Environment=EDGEFACE_UNLOCK_SECRET=`` whose value went missing must not switch a door to unsigned unlocks.
        """
        return secret_in_force(ENV_UNLOCK_SECRET, self.secret)


class MqttConfig(Section):
    enabled: bool = Field(True, description="Publish over MQTT; events are kept in the outbox either way.")
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(None, repr=False, description="Or set EDGEFACE_MQTT_PASSWORD.")
    tls: TlsConfig | None = None
    prefix: str | None = Field(
        None,
        description="Topic prefix (no + # wildcards, no leading $ or /, no trailing /); null = edgeface/<device_id>.",
    )
    keepalive: int = Field(30, ge=5, le=3600)
    outbox_max: int = Field(10000, ge=10, le=10_000_000, description="Events kept while the broker is away.")
    remote_unlock: RemoteUnlockConfig = Field(default_factory=RemoteUnlockConfig)
    discovery: bool = Field(True, description="Announce the door to Home Assistant (MQTT discovery).")
    snapshot: bool = Field(
        False,
        description="Publish the JPEG face crop of each decision, retained, to <prefix>/snapshot (a Home Assistant "
        "image entity); biometric data on the broker, so off by default. Never written to disk.",
    )

    @field_validator("prefix")
    @classmethod
    def _usable_prefix(cls, value: str | None) -> str | None:
        # Empty means the default, as in Topics.for_device.
        if value and (problem := prefix_problem(value)):
            raise ValueError(problem)
        return value

    def topic_prefix(self, device_id: str) -> str:
        """The prefix of every topic of the door ``device_id``."""
        return self.prefix or f"edgeface/{device_id}"

    @field_validator("username", "password")
    @classmethod
    def _mqtt_string(cls, value: str | None) -> str | None:
        if value is not None and (problem := text_problem(value, MAX_MQTT_STRING_BYTES)):
            raise ValueError(f"{problem} (set in the file or, for the password, in EDGEFACE_MQTT_PASSWORD)")
        return value

    @field_serializer("password", when_used="json")
    def _hide_password(self, password: str | None) -> str | None:
        # Masked like the SecretStr fields: ``config show`` prints JSON, and nothing reads a password back from it.
        return None if password is None else SECRET_MASK

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttConfig:
        if self.password is not None and self.username is None:
            raise ValueError("password is set but username is not")
        return self
