"""``relay``: the GPIO pin that drives the door strike, and how long a pulse lasts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from edgeface.config.base import MIN_SECONDS, Section

BCM_PINS = 27
"""The highest BCM number on a Raspberry Pi's 40-pin header."""
CHIP_FACTORIES = ("auto", "lgpio", "mock")
"""The pin factories that can drive a line of a chosen gpiochip (relay.chip)."""


class RelayConfig(Section):
    chip: int | None = Field(
        None,
        ge=0,
        le=255,
        description="gpiochip number (Jetson, or a Pi 5's /dev/gpiochip4): pin is then that chip's line, driven "
        "through lgpio; null = BCM numbering on a Raspberry Pi.",
    )
    pin: int = Field(
        17, ge=0, le=1023, description="BCM pin number of the door relay; with relay.chip, the line on that chip."
    )
    active_high: bool = Field(True, description="False for relay boards that energise on a low pin.")
    pulse_seconds: float = Field(3.0, ge=MIN_SECONDS, le=60.0, description="How long the door stays unlocked.")
    pin_factory: Literal["auto", "mock", "lgpio", "rpigpio", "pigpio", "native"] = Field(
        "auto", description="gpiozero pin factory; auto uses real GPIO where present, else the mock."
    )

    @field_validator("pin")
    @classmethod
    def _pin_fits_numbering(cls, pin: int, info: ValidationInfo) -> int:
        # A field error (not a model one) so that the message names relay.pin, the key to fix; chip is declared
        # first so that it is known here.
        if info.data.get("chip") is None and pin > BCM_PINS:
            raise PydanticCustomError(
                "bcm_pin",
                "Input should be less than or equal to {bcm} (a BCM GPIO number); to drive line {pin} of a gpiochip "
                "(Jetson), also set relay.chip",
                {"bcm": BCM_PINS, "pin": pin},
            )
        return pin

    @model_validator(mode="after")
    def _chip_needs_a_chip_factory(self) -> RelayConfig:
        if self.chip is not None and self.pin_factory not in CHIP_FACTORIES:
            raise ValueError(
                f"chip is set, but pin_factory {self.pin_factory} numbers pins by the Raspberry Pi header; "
                f"use one of {', '.join(CHIP_FACTORIES)}"
            )
        return self

    @property
    def where(self) -> str:
        """The pin in words: ``GPIO17`` (BCM), or ``gpiochip0 line 105``."""
        return f"GPIO{self.pin}" if self.chip is None else f"gpiochip{self.chip} line {self.pin}"
