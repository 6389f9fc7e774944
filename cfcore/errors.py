"""The engine's own error types: every bad input ends in one of these, with a message a person can act on."""

from __future__ import annotations


class CFError(ValueError):
    """Base class of every error the engine raises on purpose.

    The message says what was wrong and how to fix it; callers (CLI, dashboard) show it as is.
    """


class DataError(CFError):
    """A ratings or metadata file that cannot be read or fails validation."""


class ConfigError(CFError):
    """A hyperparameter outside its sane range, or options that do not fit together."""


class CheckpointError(CFError):
    """A file that is not a CF Studio checkpoint, or one of another format version or shape."""


class UnknownIdError(CFError, KeyError):
    """A raw user or item id that the model has never seen."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""
