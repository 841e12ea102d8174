"""Loading: YAML text → a validated :class:`Config`, with errors that name the file and the key path."""

from __future__ import annotations

from pathlib import Path

from edgeface.config.root import Config
from edgeface.config.source import ENV_CONFIG, SYSTEM_CONFIG, default_config_path, parse_source, read_source

__all__ = ["ENV_CONFIG", "SYSTEM_CONFIG", "default_config_path", "load_config", "parse_config"]


def parse_config(text: str, source: str, base: Path) -> Config:
    return parse_source(text, source, base).validate(Config)


def load_config(path: Path | None = None) -> Config:
    """Load and validate a config file; with no file anywhere, the embedded defaults."""
    return read_source(path).validate(Config)
