"""``faces``: the faces the door saw but could not name, kept for enrolling from them."""

from __future__ import annotations

from pydantic import Field

from edgeface.config.base import Section


class FacesConfig(Section):
    recent: int = Field(
        20,
        ge=0,
        le=200,
        description="How many faces of unknown or undecided visits the daemon keeps, in memory only, for "
        "`edgeface faces recent` and `enroll NAME --recent ID`; 0 keeps none.",
    )
