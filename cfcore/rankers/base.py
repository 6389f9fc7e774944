"""The contract every ranking model kind answers: what orders the lists, fitted from the training ratings.

A kind is one module in ``cfcore/rankers/`` (or in a folder named by ``CF_STUDIO_RANKERS``) defining one
``Ranker`` subclass; ``registry.py`` finds it, and the config, the CLI, the Train form, checkpoints and
the Runs table read it from there. The contract, once (indices only; raw ids are the queries' business):

- ``kind`` (a short name: CLI choice, checkpoint tag), ``label`` (what pages call it), ``summary`` (one
  sentence for help texts) and ``Params``, a frozen ``RankerParams`` dataclass whose fields are declared
  with ``setting(...)``: default, limits and help, read by the CLI flags and the form's widgets.
- ``fit(train, params, rating)`` -> a fitted ranker. ``rating`` is the fitted rating model (numpy), for
  kinds that rank from it; most ignore it.
- ``score_users(user_idx)`` -> (n, I) float32: higher = rank higher; rank-neutral terms may be left out.
- ``score_profile(item_idx, rating)`` -> (I,): a new user known only by a few ratings (no retraining).
- ``similar(item_idx)`` -> (I,) or None: how much an item goes with each other item, if the kind knows.
- ``item_vectors()``, ``user_vectors()``, ``profile_vector(item_idx, rating)``: the vectors the kind ranks by
  and a new user's among them, if it has any (None otherwise).
- ``because(item_idx, rating, target_idx)`` -> (item_idx, value): which of a profile's items pushed a
  target up, strongest first (empty when the kind cannot say); ``because_measure`` names the value.
- ``to_arrays()`` / ``from_arrays(arrays, n_users, n_items)``: plain numpy arrays for the checkpoint.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from cfcore.errors import CheckpointError, ConfigError, check_range
from cfcore.progress import RankerEpochRecord, RankerStepRecord
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings

UNMODELLED = -1.0e4  # score of items a kind does not model: below every modelled item, then by popularity


@dataclass(frozen=True)
class Setting:
    """One parameter of a kind as a form or a CLI flag shows it."""

    name: str
    default: float | int
    low: float
    high: float
    integer: bool
    label: str
    help: str


def setting(default: float | int, *, low: float, high: float, label: str, help: str, integer: bool = False):
    """A ``RankerParams`` field with its limits and help text (read by ``RankerParams.settings``)."""
    return dataclasses.field(default=default, metadata={"setting": (low, high, integer, label, help)})


@dataclass(frozen=True)
class RankerParams:
    """Base of every kind's parameters: checks each field against its limits when built."""

    def __post_init__(self) -> None:
        for s in self.settings():
            check_range(s.name, getattr(self, s.name), s.low, s.high, integer=s.integer)

    @classmethod
    def settings(cls) -> list[Setting]:
        """Each field's name, default, limits, label and help, in declaration order."""
        out = []
        for f in dataclasses.fields(cls):
            low, high, integer, label, help_text = f.metadata["setting"]
            out.append(Setting(f.name, f.default, low, high, integer, label, help_text))
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> RankerParams:
        """From stored values, ignoring names this version does not know (ConfigError on a bad value)."""
        if not isinstance(values, dict):
            raise ConfigError(f"ranking model parameters must be a mapping; got {values!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class NoParams(RankerParams):
    """For kinds that have nothing to set."""


class RankerTrainer(Protocol):
    """What a kind trained beside the rating model gives the run: its epochs, as records, judged by its lists."""

    best_epoch: int | None  # the epoch it keeps (the best by NDCG@k so far)
    stale_epochs: int  # epochs since that one

    def epoch(self, number: int) -> Iterator[RankerStepRecord | RankerEpochRecord]:
        """Train one more epoch: step records, then the epoch's record."""

    def stop(self) -> None:
        """End the current epoch after its current step (from any thread)."""

    def keep(self) -> object:
        """A copy of the current weights (``restore`` takes it back)."""

    def restore(self, kept: object) -> None:
        """Keep ``kept`` (from ``keep``) as the weights the run ends with."""

    def item_vectors(self) -> np.ndarray:
        """(I, D) the current item vectors (the map over training shows them)."""


class Ranker(ABC):
    """Base of every ranking model kind (see the module docstring for the contract)."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    order: ClassVar[int] = 100  # place among the choices (lower first); the first is the default kind
    reference: ClassVar[bool] = False  # on every run's ladder, whatever orders its lists (most popular, ...)
    floor: ClassVar[bool] = False  # the floor every ranking must beat (most popular)
    Params: ClassVar[type[RankerParams]] = NoParams
    because_measure: ClassVar[str] = "weight"  # what ``because`` returns, as a column name
    because_help: ClassVar[str] = ""  # one sentence saying what that value means
    slow_fit: ClassVar[bool] = False  # fitting takes seconds after training (the Train page's estimate says so)
    trained: ClassVar[bool] = False  # trained beside the rating model by the run's knobs (``trainer``), not fitted

    @classmethod
    @abstractmethod
    def fit(cls, train: Ratings, params: RankerParams, rating: RatingModel) -> Ranker:
        """This kind fitted on ``train`` (``rating``: the fitted rating model, for kinds that rank by it)."""

    @classmethod
    def trainer(cls, train: Ratings, val: Ratings, config: Any, params: RankerParams, *, k: int,
                threshold: float) -> RankerTrainer | None:
        """The trainer of a kind the Train form's knobs (``config``: the run's TrainConfig, not imported here since
        the config finds the kinds) train beside the rating model, epoch by epoch in the same run, its lists judged
        by NDCG@k on ``val``; None for kinds fitted after training (``fit``)."""
        return None

    @classmethod
    def from_trainer(cls, trainer: RankerTrainer) -> Ranker:
        """The ranker a finished ``trainer`` kept (kinds with a trainer only)."""
        raise NotImplementedError(f"the {cls.kind!r} ranking model is fitted, not trained beside the stars")

    @classmethod
    def memory_needed(cls, n_users: int, n_items: int, config: Any, params: RankerParams) -> int:
        """Bytes a kind trained beside the stars needs while it trains (the Train page's estimate adds them)."""
        return 0

    @classmethod
    def check_fits(cls, n_users: int, n_items: int, params: RankerParams, free_bytes: int | None) -> None:
        """Raise ConfigError, before any training, when a fit of this size cannot fit in memory (most kinds
        need little beyond the ratings, so by default every size fits)."""
        return None

    @abstractmethod
    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        """(n, I) scores of every item for trained users (higher = rank higher)."""

    @abstractmethod
    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        """(I,) scores for a new user known by a few (item_idx, rating) pairs."""

    def similar(self, item_idx: int) -> np.ndarray | None:
        return None

    def item_vectors(self) -> np.ndarray | None:
        """(I, D) the item vectors this kind ranks by, when it has any (a map can show them); None otherwise."""
        return None

    def user_vectors(self) -> np.ndarray | None:
        """(U, D) its user vectors, beside ``item_vectors``."""
        return None

    def profile_vector(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray | None:
        """(D,) a new user's vector among ``item_vectors`` from a few ratings (None for kinds without vectors)."""
        return None

    def because(self, item_idx: np.ndarray, rating: np.ndarray, target_idx: int) -> tuple[np.ndarray, np.ndarray]:
        return np.empty(0, np.int64), np.empty(0)

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays that ``from_arrays`` rebuilds this ranker from."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_users: int, n_items: int) -> Ranker:
        """Rebuild from ``to_arrays``'s output; CheckpointError when the arrays do not fit the catalogue."""


def stored_array(arrays: dict, name: str, shape: tuple | None = None) -> np.ndarray:
    """``arrays[name]`` as numpy, or CheckpointError saying what is missing or of the wrong shape."""
    if name not in arrays:
        raise CheckpointError(f"ranking model is missing its {name!r} array")
    value = np.asarray(arrays[name])
    if shape is not None and value.shape != shape:
        raise CheckpointError(f"ranking model's {name!r} has shape {value.shape}, expected {shape}")
    return value
