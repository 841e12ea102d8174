"""Checks made before the daemon opens anything slow: the files the config names are there and safe.

``edgeface run`` calls :func:`check_model_files` right after the relay is locked; ``edgeface config
check`` should run the same (see the CLI). Every message starts with the config key at fault.
"""

from __future__ import annotations

from pathlib import Path

from edgeface.config import Config
from edgeface.errors import ModelError
from edgeface.storage.fsperm import trusted_file


def model_files(cfg: Config) -> list[tuple[str, Path]]:
    """(config key, path) of every model file the daemon will load."""
    profile = cfg.profile
    files = [
        ("detector.model", cfg.model_path(cfg.detector.model)),
        ("embedder.model", cfg.model_path(profile.model)),
    ]
    if profile.center:
        files.append(("embedder.center", cfg.profile_data_path(profile.center)))
    if cfg.liveness.enabled:
        files += [(f"liveness.models.{i}.model", cfg.model_path(m.model)) for i, m in enumerate(cfg.liveness.models)]
        if cfg.liveness.screen_cue is not None:
            files.append(("liveness.screen_cue.model", cfg.model_path(cfg.liveness.screen_cue.model)))
    return files


def check_model_files(cfg: Config) -> None:
    """ModelError if a model file is missing, PermissionsError if others could change it."""
    for key, path in model_files(cfg):
        if not path.is_file():
            raise ModelError(f"{key}: {path}: model file not found (models_dir is {cfg.models_dir})")
        trusted_file(path, key)
