"""The catalogued model files on disk: their state, the configured ones, and a verified download.

Every known file is pinned by SHA-256 and size. ``pull`` downloads into a
hidden temporary file in the destination folder, checks the size while it
reads and the SHA-256 when done, and only then renames the file into place
(one atomic ``os.replace``), so a failed, truncated or tampered download
never leaves a file that a later run could load.

Most files were converted or quantized for edgeface and have no public URL;
``pull`` says so and the user copies them in (``models verify`` then checks them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from edgeface.errors import ModelError
from edgeface.models.catalogue import CATALOGUE, DEFAULT_DETECTOR, ModelFile
from edgeface.models.checksums import file_sha256
from edgeface.models.profiles import BUILTIN_PROFILES

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT_SECONDS = 60.0


def find(name: str) -> ModelFile:
    """A catalogue entry by file name, file stem, or the name of a built-in profile that uses it."""
    profile = BUILTIN_PROFILES.get(name)
    key = profile.model if profile is not None else name
    entry = CATALOGUE.get(key) or CATALOGUE.get(f"{key}.onnx")
    if entry is None:
        raise ModelError(f"{name}: not a known model file; known: {', '.join(CATALOGUE)}")
    return entry


def users(entry: ModelFile) -> list[str]:
    """What runs this file by default: ``detector`` or the built-in profiles naming it."""
    if entry.kind == "detector":
        return ["detector"] if entry.name == DEFAULT_DETECTOR else []
    return [p.name for p in BUILTIN_PROFILES.values() if p.model == entry.name]


@dataclass(frozen=True)
class FileCheck:
    """A model file on disk against the SHA-256 it should have."""

    role: str
    path: Path
    expected: str | None
    actual: str | None
    """None when the file is missing or unreadable."""
    problem: str | None = None

    @property
    def present(self) -> bool:
        return self.actual is not None

    @property
    def ok(self) -> bool:
        """Present and matching its pin (an unpinned file that is present counts as ok, with a warning)."""
        return self.actual is not None and (self.expected is None or self.actual == self.expected.lower())


def check_file(role: str, path: Path, expected: str | None) -> FileCheck:
    try:
        actual = file_sha256(path)
    except ModelError as exc:
        return FileCheck(role, path, expected, None, str(exc))
    return FileCheck(role, path, expected, actual)


def catalogue_status(models_dir: Path) -> list[tuple[ModelFile, FileCheck]]:
    """Every catalogued file: present in ``models_dir``, and does its SHA-256 match the pin."""
    return [(e, check_file(e.kind, models_dir / e.name, e.sha256)) for e in CATALOGUE.values()]


def status_row(entry: ModelFile, check: FileCheck) -> dict[str, object]:
    """One catalogue entry and its state, for ``models list --json``."""
    return {
        "name": entry.name,
        "kind": entry.kind,
        "used_by": users(entry),
        "present": check.present,
        "sha256_ok": check.ok,
        "size": entry.size,
        "licence": entry.licence,
        "noncommercial": entry.noncommercial,
        "licence_file": entry.licence_file,
        "licence_present": (check.path.parent / entry.licence_file).is_file(),
        "url": entry.url,
    }


def describe(entry: ModelFile, check: FileCheck) -> str:
    """One line of ``models list``: state, file, size, kind, users and how to get it."""
    state = "✓ ok     " if check.ok else ("✗ BAD SHA" if check.present else "- missing")
    used = ", ".join(users(entry)) or "-"
    source = "pull" if entry.url else "copy in"
    line = f"{state}  {entry.name:<46} {entry.size / 1e6:7.2f} MB  {entry.kind:<9} {used:<20} [{source}]"
    # The licence is part of the listing: non-commercial weights must never be picked unknowingly.
    flag = "NON-COMMERCIAL: " if entry.noncommercial else ""
    missing = "" if (check.path.parent / entry.licence_file).is_file() else f" ({entry.licence_file} missing)"
    return f"{line}\n             licence: {flag}{entry.licence}{missing}"


def configured_checks(files: Iterable[tuple[str, Path, str | None]]) -> list[FileCheck]:
    """Each (role, path, pinned SHA-256) a config runs (:meth:`~edgeface.config.root.Config.model_files`)
    against its pin, or the catalogue's when it pins none."""
    checks = []
    for role, path, pinned in files:
        known = CATALOGUE.get(path.name)
        checks.append(check_file(role, path, pinned or (known.sha256 if known else None)))
    return checks


def pull(entry: ModelFile, dest: Path, url: str | None = None, timeout: float = _TIMEOUT_SECONDS) -> Path:
    """Download ``entry`` into ``dest`` and return its path; nothing is left behind unless the SHA-256 matches.

    A file already in place with the right SHA-256 is kept without downloading.
    """
    target = dest / entry.name
    if target.is_file() and file_sha256(target) == entry.sha256:
        log.info("%s already present and verified", target)
        return target
    source = url or entry.url
    if source is None:
        raise ModelError(
            f"{entry.name} has no public download ({entry.origin}); copy the file into {dest} "
            "from a machine or release bundle that has it, then run `edgeface models verify`"
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{dest}: cannot create the models folder ({exc.strerror})") from exc
    # The temporary file lives beside the target so the final rename never crosses file systems.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".part", dir=dest)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(source, out, entry, timeout)
            out.flush()
            os.fsync(out.fileno())
        actual = file_sha256(tmp)
        if actual != entry.sha256:
            raise ModelError(
                f"{source}: downloaded {entry.name} has SHA-256 {actual}, not the pinned {entry.sha256}; refused"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    log.info("%s: downloaded and verified from %s", target, source)
    return target


def _download(url: str, out: IO[bytes], entry: ModelFile, timeout: float) -> None:
    """Copy ``url`` into ``out``, refusing more bytes than the pinned size (a wrong URL must not fill the disk)."""
    written = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(_CHUNK):
                written += len(chunk)
                if written > entry.size:
                    break
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ModelError(f"{url}: download of {entry.name} failed ({reason})") from exc
    if written > entry.size:
        raise ModelError(f"{url}: more than the {entry.size} bytes of {entry.name}; refused")
