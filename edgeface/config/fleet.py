"""``fleet``: many doors sharing one enrolment through the MQTT broker (see docs/fleet.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from edgeface.config.base import Section
from edgeface.config.mqtt import secret_in_force, secret_problem
from edgeface.errors import ConfigError

ENV_FLEET_KEY = "EDGEFACE_FLEET_KEY"


class FleetConfig(Section):
    enabled: bool = Field(False, description="Take people from (door) or give them to (admin) the fleet's broker.")
    site: str = Field(
        "home", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Names the fleet: topics edgeface/fleet/<site>/..."
    )
    key: SecretStr | None = Field(
        None,
        description="The site's shared secret (at least 16 characters) that signs every record (HMAC-SHA256). "
        f"Or set {ENV_FLEET_KEY}.",
    )
    role: Literal["door", "admin"] = Field(
        "door", description="door: applies the records it is sent; admin: the one device that publishes them."
    )
    signature: Literal["hmac-sha256", "ed25519"] = Field(
        "hmac-sha256",
        description="hmac-sha256: every device holds the shared key; ed25519: only the admin holds the private "
        "key that signs, the doors hold the public key (a stolen door cannot sign records).",
    )
    public_key: str | None = Field(
        None, description="ed25519: the admin's public key (base64, from edgeface fleet keygen), on every device."
    )
    private_key_file: str | None = Field(
        None, description="ed25519, admin only: the private key file edgeface fleet keygen wrote (0600)."
    )

    @model_validator(mode="after")
    def _ed25519_needs_the_public_key(self) -> FleetConfig:
        if self.enabled and self.signature == "ed25519" and self.public_key is None:
            raise ValueError("signature ed25519 needs public_key (edgeface fleet keygen prints it)")
        return self

    @field_validator("key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (problem := secret_problem(value.get_secret_value())):
            raise ValueError(problem)
        return value

    def signing_key(self) -> bytes:
        """The key in force: ``$EDGEFACE_FLEET_KEY`` if set, else ``fleet.key``; ConfigError if neither is.

        Set but empty is an error, as for the unlock secret: a value lost from a unit file is not "use the file's".
        """
        key = secret_in_force(ENV_FLEET_KEY, self.key)
        if key is None:
            raise ConfigError(f"fleet.key: a fleet needs its site's key (fleet.key or {ENV_FLEET_KEY})")
        return key.encode()
