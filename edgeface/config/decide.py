"""``decide``: how matches over frames become one decision (N of M, cooldowns, schedules)."""

from __future__ import annotations

from datetime import time as dtime
from typing import Literal

from pydantic import Field, model_validator

from edgeface.config.base import Section

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Window(Section):
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: dtime = Field(dtime(0, 0))
    end: dtime = Field(dtime(23, 59, 59))


class DecideConfig(Section):
    required: int = Field(3, ge=1, le=100, description="Frames that must agree on a person (N of M).")
    window: int = Field(5, ge=1, le=100, description="Frames considered (M).")
    window_seconds: float = Field(3.0, gt=0.0, le=60.0, description="Agreeing frames must fall within this time.")
    track_seconds: float = Field(
        1.0,
        gt=0.0,
        le=60.0,
        description="A face not seen for this long loses its track, and with it the frames that agreed on it; "
        "longer only where one frame takes longer (read at start).",
    )
    cooldown_seconds: float = Field(10.0, ge=0.0, le=3600.0, description="Per person: one event per visit.")
    unknown_cooldown_seconds: float = Field(30.0, ge=0.0, le=3600.0, description="Per track: unknown event rate.")
    stranger_cooldown_seconds: float = Field(
        60.0,
        ge=0.0,
        le=86_400.0,
        description="Per door: after a stranger is reported, no other is for this long; the ones in between are "
        "counted in the next report (its 'suppressed').",
    )
    stranger_memory_seconds: float = Field(
        600.0,
        ge=0.0,
        le=86_400.0,
        description="A stranger whose face matches one seen within this long is the same stranger: not reported "
        "again while they stay around (0: per-door cooldown only).",
    )
    unknown_below: float = Field(
        0.25,
        ge=-1.0,
        le=1.0,
        description="An unmatched face is evidence of a stranger only below this similarity; between it and "
        "the match threshold it is no evidence either way (a known face at a bad angle or distance).",
    )
    schedules: dict[str, list[Window]] = Field(
        default_factory=dict, description="Person → access windows; people not listed may enter at any time."
    )

    @model_validator(mode="after")
    def _n_of_m(self) -> DecideConfig:
        if self.required > self.window:
            raise ValueError(f"required ({self.required}) cannot exceed window ({self.window})")
        return self
