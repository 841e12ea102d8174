"""Model file checksums: every model is checked against a pinned SHA-256 before it is parsed.

Kept apart from the onnxruntime sessions so that listing or verifying models (and ``config check``)
never imports onnxruntime.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from edgeface.errors import ModelError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks so large models do not double in memory."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror})") from exc
    return digest.hexdigest()


def verify_model(path: Path, expected_sha256: str | None) -> str:
    """Return the file's SHA-256, raising :class:`ModelError` if it is not the pinned one."""
    actual = file_sha256(path)
    if expected_sha256 is None:
        log.warning("%s: no SHA-256 pinned in the config; loading it unverified (sha256 %s)", path, actual)
    elif actual != expected_sha256.lower():
        raise ModelError(
            f"{path}: SHA-256 {actual} does not match the pinned {expected_sha256}; "
            "the file is corrupt, truncated or a different model"
        )
    return actual
