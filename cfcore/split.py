"""Seeded, pure train/validation splits: random, per-user, temporal, or an explicit test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from cfcore.errors import ConfigError, DataError
from cfcore.ratings import Ratings, union_maps

SplitMethod = Literal["random", "user", "time"]
SPLIT_METHODS: tuple[str, ...] = ("random", "user", "time")


@dataclass(frozen=True, eq=False)
class Split:
    """Train and validation ratings over the same id maps, with what each side holds."""

    train: Ratings
    val: Ratings
    method: str

    @property
    def unseen_val_users(self) -> int:
        """Validation users with no rating in train (predicted from biases and the mean only)."""
        return int(np.setdiff1d(np.unique(self.val.user_idx), np.unique(self.train.user_idx)).size)

    @property
    def unseen_val_items(self) -> int:
        return int(np.setdiff1d(np.unique(self.val.item_idx), np.unique(self.train.item_idx)).size)

    def summary(self) -> dict[str, int | str]:
        return {
            "method": self.method,
            "train_ratings": len(self.train), "train_users": self.train.n_rating_users,
            "train_items": self.train.n_rating_items,
            "val_ratings": len(self.val), "val_users": self.val.n_rating_users,
            "val_items": self.val.n_rating_items,
            "val_users_unseen_in_train": self.unseen_val_users,
            "val_items_unseen_in_train": self.unseen_val_items,
        }

    def __repr__(self) -> str:
        return f"Split({self.method}, train={len(self.train)}, val={len(self.val)})"


@dataclass(frozen=True)
class SplitSettings:
    """How validation was held out: recorded with every run, so its split can be rebuilt from the data."""

    method: str = "random"
    fraction: float = 0.1
    seed: int = 0

    def apply(self, ratings: Ratings) -> Split:
        return split(ratings, self.method, self.fraction, self.seed)

    def to_dict(self) -> dict:
        return {"method": self.method, "fraction": self.fraction, "seed": self.seed}

    @classmethod
    def from_dict(cls, values) -> SplitSettings:
        """From a saved run's record; ValueError (or KeyError, TypeError) when it is not one."""
        return cls(str(values["method"]), float(values["fraction"]), int(values["seed"]))


def split(ratings: Ratings, method: SplitMethod = "random", fraction: float = 0.1, seed: int = 0,
          min_user_ratings: int = 5) -> Split:
    """Hold out ``fraction`` of the ratings for validation.

    Parameters
    ----------
    method : "random" | "user" | "time"
        random: a uniform sample of ratings. user: ``fraction`` of each user's ratings (users with
        fewer than ``min_user_ratings`` stay wholly in train). time: each user's latest ratings by
        timestamp (same minimum).
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction must be between 0 and 1 (exclusive), got {fraction}")
    if len(ratings) < 2:
        raise DataError(f"only {len(ratings)} rating(s): at least 2 are needed to hold one out for validation")
    if method == "random":
        val_mask = random_mask(len(ratings), fraction, seed)
    elif method == "user":
        val_mask = per_user_mask(ratings, fraction, seed, min_user_ratings, order=None)
    elif method == "time":
        if ratings.timestamp is None:
            raise ConfigError("a temporal split needs timestamps, and this dataset has none; use 'random' or 'user'")
        val_mask = per_user_mask(ratings, fraction, seed, min_user_ratings, order=ratings.timestamp)
    else:
        raise ConfigError(f"unknown split method {method!r}; use one of {', '.join(SPLIT_METHODS)}")
    if not val_mask.any():
        raise DataError(
            f"the {method} split put no rating in validation ({len(ratings)} ratings, fraction {fraction}); "
            "use a larger fraction or more data"
        )
    if val_mask.all():
        raise DataError(f"the {method} split left no rating for training; use a smaller fraction")
    return Split(ratings.subset(~val_mask), ratings.subset(val_mask), method)


def random_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """(n,) bool: exactly round(n * fraction) (at least 1) rows chosen uniformly."""
    rng = np.random.default_rng(seed)
    n_val = min(n - 1, max(1, int(round(n * fraction))))
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_val]] = True
    return mask


def per_user_mask(ratings: Ratings, fraction: float, seed: int, min_user_ratings: int,
                  order: np.ndarray | None) -> np.ndarray:
    """(n,) bool: for each user with enough ratings, their last ``fraction`` by ``order`` (or at random)."""
    rng = np.random.default_rng(seed)
    n = len(ratings)
    key = rng.random(n) if order is None else order.astype(np.float64) + rng.random(n) * 1e-3  # random ties
    rows = np.lexsort((key, ratings.user_idx))  # grouped by user, each group ascending by key
    users_sorted = ratings.user_idx[rows]
    counts = np.bincount(ratings.user_idx, minlength=ratings.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_user = np.arange(n) - starts[users_sorted]  # 0 = first of the user's ratings
    n_user = counts[users_sorted]
    n_val = np.where(n_user >= min_user_ratings, np.maximum(1, np.round(n_user * fraction)), 0)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = rank_in_user >= n_user - n_val
    return mask


def with_test_set(parts: Split, test: Ratings) -> tuple[Split, Ratings]:
    """Put a split and an explicit test file's ratings on shared id maps, extended by unseen ids.

    Training indices stay as they were; users/items only in the test file get indices past them.
    The model never trains those rows, so it predicts them from what it knows (biases, mean).
    """
    users = union_maps(parts.train.users, test.users)
    items = union_maps(parts.train.items, test.items)
    aligned = Split(parts.train.reindexed(users, items), parts.val.reindexed(users, items), parts.method)
    return aligned, test.reindexed(users, items)
