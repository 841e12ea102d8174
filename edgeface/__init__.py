"""edgeface: face-recognition access control for the edge.

The library API (docs/api.md) is ``edgeface.FaceNet`` and ``edgeface.Recognizer``. They are imported on
first use (PEP 562), so that ``import edgeface`` — and with it every command, ``edgeface relay lock``
first — loads neither numpy, OpenCV nor onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeface.library import FaceNet, Recognition, Recognizer

__version__ = "0.1.0"

__all__ = ["FaceNet", "Recognition", "Recognizer", "__version__"]

_LAZY = {"FaceNet": "edgeface.library", "Recognition": "edgeface.library", "Recognizer": "edgeface.library"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeface' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
