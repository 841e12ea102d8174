"""Exceptions raised by edgeface.

Every message names the file, key or value at fault, so that the CLI and the
service can print it as the one line a user reads::

    EdgefaceError
    ├── UsageError           a command line that cannot work as given (exit status 2, as argparse's)
    ├── ConfigError          invalid YAML, unknown key, out-of-range value
    ├── ModelError           missing, unreadable or tampered model file
    ├── ImageError           a photo that cannot be decoded
    ├── StoreError           the people store or audit log cannot be opened, read or written, or is stale
    │   └── StaleTemplatesError  templates were made with another model
    ├── CameraError          a capture source that cannot be opened
    ├── PermissionsError     a sensitive file readable by others, or a model others could change
    ├── OutboxError          the outbox cannot be written (the state directory is full or read-only)
    ├── NonceLogError        the record of accepted command nonces cannot be written
    └── CommandError         an MQTT command that is malformed, unsigned, stale, replayed or not allowed
"""

from __future__ import annotations


class EdgefaceError(Exception):
    """Root of every error edgeface raises on purpose."""


class UsageError(EdgefaceError):
    """The arguments of a command do not make a command (none given, or a value the command cannot read)."""


class ConfigError(EdgefaceError, ValueError):
    """The configuration is invalid."""


class ModelError(EdgefaceError, OSError):
    """A model file is missing, unreadable, corrupt or has the wrong SHA-256."""


class ImageError(EdgefaceError, ValueError):
    """An image file cannot be read as a picture."""


class StoreError(EdgefaceError):
    """The people store cannot be opened or used."""


class StaleTemplatesError(StoreError):
    """The store holds templates made by a different embedding model."""


class CameraError(EdgefaceError, OSError):
    """A capture source cannot be opened or read."""


class PermissionsError(EdgefaceError, PermissionError):
    """A sensitive file or directory is readable by others or owned by someone else."""


class OutboxError(EdgefaceError):
    """The outbox file cannot be opened or written."""


class NonceLogError(EdgefaceError):
    """The file of accepted command nonces cannot be opened or written."""


class CommandError(EdgefaceError, ValueError):
    """A command payload that is not valid, or not allowed; the message says why in one short line."""
