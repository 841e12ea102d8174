"""``store``: the people store and what it keeps (templates, optional face crops, the audit log)."""

from __future__ import annotations

from pydantic import Field

from edgeface.config.base import Section


class StoreConfig(Section):
    path: str = Field("people.db", description="SQLite file, relative to state_dir.")
    keep_images: bool = Field(False, description="Keep the enrolment face crops (biometric data) in the store.")
    image_retention_days: float = Field(
        30.0,
        gt=0.0,
        le=3650.0,
        description="With keep_images, face crops older than this are deleted (at start and daily); "
        "without keep_images, the daemon deletes any crops left in the store.",
    )
    audit_retention_days: float = Field(
        365.0, gt=0.0, le=3650.0, description="Door decisions older than this leave the audit log."
    )
