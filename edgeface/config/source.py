"""The config file before the schema: where it is, its YAML as a mapping, and problems as ``file: key: msg``.

Kept apart from :mod:`edgeface.config.load` (which validates the whole :class:`~edgeface.config.root.Config`)
so that a command may validate just the sections it needs, each with its own section class and without
importing the others: ``relay lock`` must lock the door even when another section is broken, and even
when the rest of the file does not parse at all (:func:`read_relay_source`).

A config file is read only if it is a regular file of at most :data:`MAX_CONFIG_BYTES`, opened without
blocking: a FIFO or ``/dev/zero`` named as the config is one error line, not a hang or a MemoryError.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from edgeface.config.base import edgeface_home
from edgeface.errors import ConfigError

ENV_CONFIG = "EDGEFACE_CONFIG"
SYSTEM_CONFIG = Path("/etc/edgeface/edgeface.yaml")
MAX_CONFIG_BYTES = 1024 * 1024
"""A config file is a few KiB; anything larger is not one."""
_TOP_LEVEL_KEY = re.compile(r"^[^\s#]")

SectionT = typing.TypeVar("SectionT", bound=BaseModel)
T = typing.TypeVar("T")


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model under ``model`` that holds the key at ``loc`` (``("camera", "fsp")`` → CameraConfig), if one."""
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


def _problem(source: str, error: ErrorDetails, model: type[BaseModel], at: tuple[str, ...]) -> str:
    """One problem on one line, with the closest known key when the key is unknown (a typo)."""
    loc = error["loc"]
    line = f"{source}: {_key_path((*at, *loc))}: {error['msg']}"
    if error["type"] == "extra_forbidden" and loc and (holder := _model_at(model, loc)) is not None:
        close = difflib.get_close_matches(str(loc[-1]), list(holder.model_fields), n=1)
        if close:
            line += f"; did you mean {'.'.join([*at, *map(str, loc[:-1]), close[0]])!r}?"
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


@dataclass(frozen=True)
class ConfigSource:
    """A config file's top-level mapping, its relative paths resolved and ``$EDGEFACE_MQTT_PASSWORD`` applied."""

    data: dict[str, object]
    source: str
    """How errors name the file: its path, or ``(embedded defaults)``."""

    def validate(self, model: type[SectionT]) -> SectionT:
        """The whole mapping as ``model``; ConfigError with one ``file: key.path: problem`` line per problem."""
        return self._validate(model, self.data, ())

    def section(self, name: str, model: type[SectionT]) -> SectionT:
        """Only the section ``name`` as ``model`` (its defaults when absent); the others are not looked at."""
        return self._validate(model, self.data.get(name, {}), (name,))

    def value(self, name: str, adapter: TypeAdapter[T], default: T) -> T:
        """Only the top-level key ``name``, validated by ``adapter`` (``default`` when absent)."""
        if name not in self.data:
            return default
        try:
            return adapter.validate_python(self.data[name])
        except ValidationError as exc:
            raise ConfigError("\n".join(f"{self.source}: {name}: {e['msg']}" for e in exc.errors())) from None

    def _validate(self, model: type[SectionT], data: object, at: tuple[str, ...]) -> SectionT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # One line per problem: the CLI prints each as an error line of its own.
            raise ConfigError("\n".join(_problem(self.source, e, model, at) for e in exc.errors())) from None


def parse_source(text: str, source: str, base: Path) -> ConfigSource:
    """YAML text as a :class:`ConfigSource`; ConfigError (with the line and column) if it is not a YAML mapping."""
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
    return ConfigSource(data, source)


def default_config_path() -> Path | None:
    """``$EDGEFACE_CONFIG``, else /etc/edgeface/edgeface.yaml if present, else None (embedded defaults)."""
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def read_config_bytes(path: Path) -> bytes:
    """The bytes of the config file at ``path``: ConfigError unless it is a regular file of a config's size."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path}: not a regular file (a config file is plain YAML)")
        try:
            data = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB, not a config file")
    return data


def read_source(path: Path | None = None) -> ConfigSource:
    """Read a config file (default: :func:`default_config_path`); with no file anywhere, the embedded defaults."""
    path = path or default_config_path()
    if path is None:
        return parse_source("", "(embedded defaults)", edgeface_home())
    data = read_config_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x})") from None
    return parse_source(text, str(path), path.resolve().parent)


def read_relay_source(path: Path | None = None) -> tuple[ConfigSource, str | None]:
    """The config file for ``relay lock``, whose ``relay`` section must be found whatever else is wrong with it.

    Returns the source and None when the whole file parses; when it does not (a tab, a byte that is not
    UTF-8, a ``!!python`` tag, anywhere else), a source holding only the ``relay`` section, parsed on its
    own, and the problem with the whole file. ConfigError only if the ``relay`` section itself cannot be read.
    """
    path = path or default_config_path()
    if path is None:
        return read_source(None), None
    text = read_config_bytes(path).decode("utf-8", errors="replace")  # a bad byte in the relay section fails there
    try:
        return parse_source(text, str(path), path.resolve().parent), None
    except ConfigError as whole:
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if re.match(r"relay\s*:", line)), None)
        if start is None:
            raise ConfigError(f"{path}: no relay section can be read: {whole}") from None
        end = next((i for i in range(start + 1, len(lines)) if _TOP_LEVEL_KEY.match(lines[i])), len(lines))
        # Blank lines in front keep a problem's line number that of the file. Trailing blanks (a stray tab)
        # mean nothing in the relay section's plain keys and values, so they are dropped.
        block = "\n" * start + "\n".join(line.rstrip() for line in lines[start:end]) + "\n"
        source = parse_source(block, str(path), path.resolve().parent)
        return source, str(whole)
