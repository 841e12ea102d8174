"""People's names: one normal form, and no look-alikes of another person's name.

A name is what an operator reads in ``people list``, an event and the audit log, so two people must
never have names that look the same: NFKC-normalised and stripped, letters of one script only, and
refused when it reads like an enrolled name (``Alice`` beside ``alice``, Cyrillic ``аlice``).
"""

from __future__ import annotations

import re
import unicodedata

from edgeface.errors import StoreError

_NAME = re.compile(r"^[\w][\w .'-]{0,63}$")

# Letters of these scripts look alike ("а" is Cyrillic): a name may use one of them, not a mix.
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
# Cyrillic and Greek letters drawn like Latin ones (Unicode's confusables, the lower-case letters that matter).
_CONFUSABLE = str.maketrans(
    "аеорсухіјѕԁӏһԛԝьαβεικνορτυχω",
    "aeopcyxijsdlhqwbabeiknoptuxw",
)


def _scripts(name: str) -> set[str]:
    return {
        script
        for ch in name
        if ch.isalpha()
        for script in _LOOKALIKE_SCRIPTS
        if unicodedata.name(ch, "").startswith(script)
    }


def lookalike_key(name: str) -> str:
    """What a name looks like on a screen: the same key for ``alice``, ``Alice`` and Cyrillic ``аlice``."""
    return name.casefold().translate(_CONFUSABLE)


def check_name(name: str) -> str:
    """A person's name normalised (NFKC, outer spaces stripped); StoreError if it is not usable.

    Letters, digits, space, ``.'-_``, 1–64 characters, starting with a letter or digit, and letters of
    one script among Latin, Cyrillic and Greek (a mix is how a look-alike of another name is made).
    """
    normal = unicodedata.normalize("NFKC", name).strip()
    if not _NAME.match(normal):
        raise StoreError(f"invalid person name {name!r}: use 1–64 letters, digits, spaces or . ' - _")
    if len(scripts := _scripts(normal)) > 1:
        raise StoreError(
            f"invalid person name {name!r}: it mixes {' and '.join(sorted(s.title() for s in scripts))} letters, "
            "which makes look-alikes of other names; write it in one script"
        )
    return normal
