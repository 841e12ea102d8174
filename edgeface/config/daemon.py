"""``daemon``, ``metrics``, ``web``: guards of the running daemon and what it serves locally."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from edgeface.config.base import Section
from edgeface.config.mqtt import secret_in_force, secret_problem

ENV_WEB_TOKEN = "EDGEFACE_WEB_TOKEN"


class DaemonConfig(Section):
    """Guards of the running daemon."""

    decisions_per_minute: int = Field(
        30, ge=1, le=10_000, description="Recognition decisions acted on per minute; more are dropped (no unlock)."
    )
    stall_seconds: float = Field(
        20.0,
        ge=0.0,
        le=3600.0,
        description="A frame loop or camera read stuck this long locks the door and exits (status 3) so the "
        "service manager restarts the daemon; 0 disables.",
    )


class MetricsConfig(Section):
    port: int | None = Field(None, ge=0, le=65535, description="Serve Prometheus metrics on this port; null = off.")
    address: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 to let another host scrape.")


class WebConfig(Section):
    """The local live view: annotated stream, last events, health. Off by default."""

    enabled: bool = Field(False, description="Serve the live view page (it shows faces: keep it on a trusted network).")
    address: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 to let another host look.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the page; 0 picks a free one.")
    fps: float = Field(5.0, gt=0.0, le=30.0, description="Most stream frames per second sent to a viewer.")
    hosts: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Host names the page is reached by besides IP addresses, localhost and this machine's own "
        "names (e.g. door.example.lan); a request naming another host is refused (DNS rebinding).",
    )
    token: SecretStr | None = Field(
        None,
        description="Bearer token (at least 16 characters) that lets the page enrol a recent face; without one "
        f"the page offers nothing that writes. Or set {ENV_WEB_TOKEN}.",
    )

    @field_validator("token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (problem := secret_problem(value.get_secret_value())):
            raise ValueError(problem)
        return value

    def access_token(self) -> str | None:
        """The token in force: ``$EDGEFACE_WEB_TOKEN`` if set, else ``token``; None: the page only shows.

        Set but empty is an error, as for the other secrets: a unit file whose value went missing says so.
        """
        return secret_in_force(ENV_WEB_TOKEN, self.token)
