"""ONNX model files: checksum verification and onnxruntime session creation.

Every model edgeface runs goes through :func:`open_session`, so the session
options (threads, graph optimisation, execution providers) are chosen in one
place and a tampered or truncated model file is refused before it is parsed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import onnxruntime as ort

from edgeface.errors import ModelError
from edgeface.models.checksums import verify_model

log = logging.getLogger(__name__)


def default_threads() -> int:
    """One core fewer than the machine has, leaving one for capture and MQTT."""
    return max(1, (os.cpu_count() or 1) - 1)


class RuntimeSettings(Protocol):
    """The ``runtime`` config section as this module reads it (models sit below config: no import)."""

    @property
    def threads(self) -> int: ...

    @property
    def providers(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class RuntimeOptions:
    """How onnxruntime sessions are built."""

    threads: int = 0
    """Intra-op threads; 0 means :func:`default_threads`."""
    providers: tuple[str, ...] = ("CPUExecutionProvider",)

    @classmethod
    def from_config(cls, section: RuntimeSettings) -> RuntimeOptions:
        return cls(threads=section.threads, providers=tuple(section.providers))


def choose_providers(wanted: tuple[str, ...]) -> list[str]:
    """The wanted providers this onnxruntime build has, in order, always ending with the CPU."""
    available = set(ort.get_available_providers())
    chosen = [p for p in wanted if p in available]
    for missing in (p for p in wanted if p not in available):
        log.warning("execution provider %s is not available in this onnxruntime; falling back", missing)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def open_session(path: Path, sha256: str | None, options: RuntimeOptions) -> tuple[ort.InferenceSession, str]:
    """Verify a model file and open it; returns the session and the file's SHA-256."""
    actual = verify_model(path, sha256)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = options.threads or default_threads()
    # Stages run one after another on a frame, so parallel graph execution only adds contention.
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle intra-op workers spin by default, burning the core that capture and MQTT were left;
    # when the cores are shared they make 2 threads slower than 1 (bench speed: frame_ms 15.1 → 5.9 ms).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=so, providers=choose_providers(options.providers))
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: onnxruntime cannot load this model ({first_line})") from exc
    return session, actual
