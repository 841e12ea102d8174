"""What every config section shares: no unknown keys, frozen values, and where files live by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


def edgeface_home() -> Path:
    """Where the bundled models and demo clip live: ``$EDGEFACE_HOME`` or the source checkout."""
    env = os.environ.get("EDGEFACE_HOME")
    return Path(env) if env else Path(__file__).resolve().parents[2]


def default_state_dir() -> Path:
    """systemd's ``$STATE_DIRECTORY``, else the XDG state directory."""
    if env := os.environ.get("STATE_DIRECTORY"):
        return Path(env.split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "edgeface"


MIN_SECONDS = 0.1
"""The shortest unlock anything may ask for (a relay pulse, a remote unlock): a shorter pulse cannot move a
strike, and a log line saying "granted for 0.0 s" would be a lie."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]

DEFAULT_DEVICE_ID = "edgeface"
DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""The top-level ``device_id``: it names the door in MQTT topics and entity ids."""
