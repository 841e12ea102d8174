"""What an enrolment did with each photo (or camera shot, or face the door saw), and the totals."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from edgeface.vision.vetting import Likeness


class Outcome(str, enum.Enum):
    ENROLLED = "enrolled"
    NO_FACE = "no face"
    SEVERAL_FACES = "several faces"
    ALREADY_ENROLLED = "already enrolled"
    UNREADABLE = "unreadable"
    INVALID_NAME = "invalid name"
    NOT_A_PHOTO = "not a photo"
    DUPLICATE = "duplicate"
    NO_NAME = "no name"
    """A flat photo whose file name names no one (``IMG_1234.jpg``)."""
    NOT_THEM = "not this person"
    """Adding to a person a face that does not match them."""
    ENROLLED_ELSEWHERE = "enrolled under another name"
    """A new name for a face that passes for someone enrolled."""
    DISAGREE = "photos disagree"
    """Photos of one name, in one command, that are not of one person."""


@dataclass(frozen=True)
class EnrolResult:
    name: str
    photo: Path
    outcome: Outcome
    detail: str = ""
    like: Likeness | None = None
    """Whom the face resembles most, where a check said."""
    overridden: str = ""
    """The check ``--force`` or ``--allow-similar`` overrode to enrol it (empty: none)."""

    @property
    def refused(self) -> bool:
        """Not in the store: a photo already enrolled is no failure."""
        return self.outcome not in (Outcome.ENROLLED, Outcome.ALREADY_ENROLLED)

    @property
    def reason(self) -> str:
        """Why, without the photo's path that ``detail`` (an error message) usually begins with."""
        prefix = f"{self.photo}: "
        text = self.detail.removeprefix(prefix) if self.detail.startswith(prefix) else self.detail
        return text or self.outcome.value

    def line(self) -> str:
        """``photo: outcome — reason``, the path once, the outcome word once (``x.jpg: no face (0 found)``)."""
        reason = self.reason
        why = reason if reason.startswith(self.outcome.value) else f"{self.outcome.value} — {reason}"
        return f"{self.photo}: {why}"

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "photo": str(self.photo),
            "name": self.name,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }
        if self.like is not None:
            out["resembles"] = {"person": self.like.person, "similarity": round(self.like.similarity, 4)}
        if self.overridden:
            out["overridden"] = self.overridden
        return out


@dataclass
class EnrolTally:
    """What an enrolment did: new templates, photos already enrolled (harmless) and photos refused,
    and the names it created or extended."""

    enrolled: int = 0
    already_enrolled: int = 0
    skipped: list[EnrolResult] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    overridden: list[EnrolResult] = field(default_factory=list)

    def add(self, result: EnrolResult) -> None:
        if result.refused:
            self.skipped.append(result)
            return
        if result.outcome is Outcome.ENROLLED:
            self.enrolled += 1
        else:
            self.already_enrolled += 1
        if result.overridden:
            self.overridden.append(result)

    def name(self, name: str, created: bool) -> None:
        """Note that ``name`` got new templates: a new person, or more of someone enrolled."""
        (self.created if created else self.extended).append(name)

    @property
    def failed(self) -> bool:
        """Nothing usable came of it: every photo was refused. A folder enrolled before has not failed."""
        return bool(self.skipped) and not (self.enrolled or self.already_enrolled)

    def summary(self, dry_run: bool = False) -> str:
        already = f", {self.already_enrolled} already enrolled" if self.already_enrolled else ""
        verb = "would enrol" if dry_run else "enrolled"
        return f"{verb} {self.enrolled} photo(s){already}, skipped {len(self.skipped)}"

    def names(self, dry_run: bool = False) -> list[str]:
        """One line each for the names created and extended (none when there are none)."""
        lines = []
        for what, names in (("new", self.created), ("more photos of", self.extended)):
            if names:
                lines.append(f"{'would add' if dry_run else 'added'} {what}: {', '.join(names)}")
        return lines
