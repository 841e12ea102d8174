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
    on_disk: bool = Field(
        False,
        description="Also keep them in state_dir/recent_faces.npz (0600, at most `recent` faces, dropped after "
        "store.image_retention_days) so that they outlive a restart; off: memory only, and such a file is deleted.",
    )
