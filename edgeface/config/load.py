"""Loading: YAML text → a validated :class:`Config`, with errors that name the file and the key path."""

from __future__ import annotations

import difflib
import os
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from edgeface.config.base import edgeface_home
from edgeface.config.root import Config
from edgeface.errors import ConfigError

ENV_CONFIG = "EDGEFACE_CONFIG"
SYSTEM_CONFIG = Path("/etc/edgeface/edgeface.yaml")


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _section_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the key at ``loc`` (``("camera", "fsp")`` → CameraConfig), if it is one."""
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        models = [t for t in (field.annotation, *typing.get_args(field.annotation)) if isinstance(t, type)]
        nested = [t for t in models if issubclass(t, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _problem(source: str, error: ErrorDetails) -> str:
    """One problem on one line, with the closest known key when the key is unknown (a typo)."""
    loc = error["loc"]
    line = f"{source}: {_key_path(loc)}: {error['msg']}"
    if error["type"] == "extra_forbidden" and loc and (section := _section_at(loc)) is not None:
        close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
        if close:
            line += f"; did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?"
    return line


def _resolve_relative(data: dict[str, object], base: Path) -> None:
    """Make the config file's relative paths relative to its own directory."""
    for key in ("models_dir", "state_dir"):
        value = data.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            data[key] = str(base / value)
    camera = data.get("camera")
    if isinstance(camera, dict) and isinstance(camera.get("path"), str) and not Path(camera["path"]).is_absolute():
        camera["path"] = str(base / Path(camera["path"]).expanduser())


def parse_config(text: str, source: str, base: Path) -> Config:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML ({problem})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, not {type(data).__name__}")
    _resolve_relative(data, base)
    mqtt = data.get("mqtt")
    if env_password := os.environ.get("EDGEFACE_MQTT_PASSWORD"):
        data["mqtt"] = {**(mqtt if isinstance(mqtt, dict) else {}), "password": env_password}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # One line per problem: the CLI prints each as an error line of its own.
        raise ConfigError("\n".join(_problem(source, e) for e in exc.errors())) from None


def default_config_path() -> Path | None:
    """``$EDGEFACE_CONFIG``, else /etc/edgeface/edgeface.yaml if present, else None (embedded defaults)."""
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def load_config(path: Path | None = None) -> Config:
    """Load and validate a config file; with no file anywhere, the embedded defaults."""
    path = path or default_config_path()
    if path is None:
        return parse_config("", "(embedded defaults)", edgeface_home())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from exc
    return parse_config(text, str(path), path.resolve().parent)
