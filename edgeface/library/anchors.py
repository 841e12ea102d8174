"""Anchors: the people a :class:`~edgeface.library.FaceNet` knows, from a folder of photos or from embeddings.

A folder has the layout ``edgeface enroll --from-dir`` reads (``<name>/*.jpg`` folders, flat
``<name>.jpg`` / ``<name>_2.jpg`` files, ``unknown/`` skipped) and each photo is embedded as enrolment
embeds it: its one prominent face, or the photo is skipped with a warning naming it. A mapping gives each
name one embedding or several (rows), as :meth:`FaceNet.encode` returns them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.ops.enroll import EnrolmentError, embed_image, scan_faces
from edgeface.values import Vectors
from edgeface.vision.images import load_image
from edgeface.vision.match import Gallery
from edgeface.vision.recognize import Recognizer

log = logging.getLogger(__name__)

Anchors: TypeAlias = "str | os.PathLike[str] | Mapping[str, npt.ArrayLike]"
"""A folder of photos, or name → one embedding or rows of them."""


def gallery_from(anchors: Anchors, recognizer: Recognizer) -> Gallery:
    """The gallery ``anchors`` describe, embedded by ``recognizer`` where they are photos."""
    dim = recognizer.embedder.profile.output_dim
    if isinstance(anchors, Mapping):
        return Gallery.build({str(name): _rows(name, value, dim) for name, value in anchors.items()}, dim)
    return Gallery.build(_embed_folder(Path(os.fspath(anchors)), recognizer), dim)


def _rows(name: object, value: npt.ArrayLike, dim: int) -> Vectors:
    rows = np.asarray(value, np.float32)
    if rows.size == 0 or rows.size % dim or not np.isfinite(rows).all():
        raise ConfigError(
            f"anchors[{name!r}]: {rows.size} numbers; expected one or more embeddings of {dim} (the embedder's size)"
        )
    rows = rows.reshape(-1, dim)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ConfigError(f"anchors[{name!r}]: an embedding of zeros")
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def _embed_folder(folder: Path, recognizer: Recognizer) -> dict[str, Vectors]:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder of anchor photos (anchors= takes a folder or a dict)")
    scan = scan_faces(folder)
    for skipped in scan.skipped:
        log.warning("anchor skipped: %s", skipped.detail)
    templates: dict[str, list[Vectors]] = {}
    for name, photo in scan.photos:
        try:
            vectors, _ = embed_image(recognizer, load_image(photo), str(photo))
        except (EnrolmentError, EdgefaceError) as exc:
            log.warning("anchor skipped: %s", exc)
            continue
        templates.setdefault(name, []).append(vectors)
    log.info("%d people from %d anchor photos in %s", len(templates), sum(map(len, templates.values())), folder)
    return {name: np.concatenate(rows) for name, rows in templates.items()}
