"""``relay``: the GPIO pin that drives the door strike, and how long a pulse lasts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgeface.config.base import MIN_SECONDS, Section


class RelayConfig(Section):
    pin: int = Field(17, ge=0, le=27, description="BCM pin number of the door relay.")
    active_high: bool = Field(True, description="False for relay boards that energise on a low pin.")
    pulse_seconds: float = Field(3.0, ge=MIN_SECONDS, le=60.0, description="How long the door stays unlocked.")
    pin_factory: Literal["auto", "mock", "lgpio", "rpigpio", "pigpio", "native"] = Field(
        "auto", description="gpiozero pin factory; auto uses real GPIO where present, else the mock."
    )
