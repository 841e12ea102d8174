"""Whose face a flat photo in a ``faces/`` folder is: read from its file name, never guessed.

``faces/<name>/`` says who is in each photo. A photo directly in ``faces/`` names its person by its
file name, ``alice.jpg`` or ``alice_2.jpg`` (``alice-2``), and only where that reading is the only
sensible one:

* a camera's or phone's own file name (``IMG_1234``, ``DSC01234``, ``PXL_20240101_123456789``,
  ``Screenshot 2024-…``, ``WhatsApp Image …``) names no one: two such photos of two people would
  otherwise become one person called ``IMG``;
* a name that is mostly digits (``20240101_123456``, ``0042``) is a number, not a person;
* the number stripped from ``<name>_<n>`` is a short photo number (1–3 digits): ``bob_2001`` is as
  likely a year as a second photo, so it is refused rather than enrolled as ``bob``.

A refused photo is reported with the hint to move it to ``faces/<name>/``; nothing is enrolled from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBERED = re.compile(r"^(?P<name>.+?)[_-](?P<n>\d+)$")
_PHOTO_NUMBER_DIGITS = 3
_CAMERA_EXPORT = re.compile(
    r"^(?:img|dsc[nf]?|pxl|mvimg|vid|pano|dji|gopr|cimg|p\d{3,}|photo|image|picture|screenshot|screen[ _-]?shot|"
    r"whatsapp[ _-]image|signal-|snapchat|burst)(?:[ _-]|\d|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FileName:
    """What a flat photo's name says: the person, or why it says nobody (``person`` is then None)."""

    person: str | None
    problem: str = ""


def _mostly_digits(text: str) -> bool:
    alnum = [c for c in text if c.isalnum()]
    return not alnum or sum(c.isdigit() for c in alnum) * 2 > len(alnum)


def person_from_file(stem: str) -> FileName:
    """The person a flat ``faces/<stem>.jpg`` names (see the module docstring), or why it names no one."""
    hint = "put it in faces/<name>/ to say who it is"
    if _CAMERA_EXPORT.match(stem):
        return FileName(None, f"{stem!r} is a camera's file name, not a person's: {hint}")
    if _mostly_digits(stem):
        return FileName(None, f"{stem!r} is mostly digits, not a person's name: {hint}")
    numbered = _NUMBERED.match(stem)
    if numbered is None:
        return FileName(stem)
    name, number = numbered.group("name"), numbered.group("n")
    if len(number) > _PHOTO_NUMBER_DIGITS or _mostly_digits(name):
        return FileName(None, f"{stem!r} may or may not end in a photo number: {hint}")
    return FileName(name)
