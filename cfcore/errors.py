"""The engine's own error types: every bad input ends in one of these, with a message a person can act on."""

from __future__ import annotations


class CFError(ValueError):
    """Base class of every error the engine raises on purpose.

    The message says what was wrong and how to fix it; callers (CLI, dashboard) show it as is.
    """


class DataError(CFError):
    """A ratings or metadata file that cannot be read or fails validation."""


class ColumnsNotFound(DataError):
    """A ratings file whose user, item or rating column could not be told from its header.

    ``available`` lists the file's columns and ``found`` the roles that were recognised, so a surface can
    offer the choice in its own words (the CLI's ``--columns``, the dashboard's column dropdowns)."""

    def __init__(self, message: str, available: list[str], found: dict[str, str], missing: list[str]) -> None:
        super().__init__(message)
        self.available, self.found, self.missing = available, found, missing


class ConfigError(CFError):
    """A hyperparameter outside its sane range, or options that do not fit together."""


class CheckpointError(CFError):
    """A file that is not a CF Studio checkpoint, or one of another format version or shape."""


class UnknownIdError(CFError, KeyError):
    """A raw user or item id that the model has never seen."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else ""


def check_range(name: str, value, low: float, high: float, integer: bool = False) -> None:
    """Raise ConfigError naming ``value`` unless low <= value <= high (and an int when asked)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}; got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}; got {value!r}")
