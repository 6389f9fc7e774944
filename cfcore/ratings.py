"""The aligned-arrays container: who rated what, how much, and when, over shared id maps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cfcore.ids import IdMap


@dataclass(frozen=True)
class RatingScale:
    """The range ratings live in; ``step`` is 0 for continuous ratings."""

    min: float
    max: float
    step: float = 0.0

    @classmethod
    def detect(cls, rating: np.ndarray) -> RatingScale:
        """Smallest and largest rating, and the finest spacing between distinct values."""
        values = np.unique(pd.unique(rating.astype(np.float64, copy=False)))  # hash first: fast on 25M rows
        step = 0.0
        if 1 < len(values) <= 1000:  # a few distinct values: a discrete scale such as 0.5 stars
            gaps = np.diff(values)
            step = float(np.round(gaps.min(), 6))
            # every value a multiple of the step from the minimum, or the scale is not stepped
            if not np.allclose(np.round((values - values[0]) / step) * step, values - values[0], atol=1e-6):
                step = 0.0
        return cls(float(values.min()), float(values.max()), step)

    def __str__(self) -> str:
        step = f" in steps of {self.step:g}" if self.step else " (continuous)"
        return f"{self.min:g} to {self.max:g}{step}"


@dataclass(frozen=True, eq=False)
class Ratings:
    """Aligned arrays of ratings, over id maps that may hold users/items with no rating here.

    ``user_idx[k]`` rated ``item_idx[k]`` with ``rating[k]`` at ``timestamp[k]`` (or no timestamps).
    Train and validation parts of one dataset share the same ``users`` and ``items`` maps, so an
    index means the same user on both sides.
    """

    user_idx: np.ndarray  # (n,) int64
    item_idx: np.ndarray  # (n,) int64
    rating: np.ndarray  # (n,) float32
    users: IdMap
    items: IdMap
    timestamp: np.ndarray | None = None  # (n,) int64 seconds, or None
    scale: RatingScale = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._check()
        if self.scale is None and len(self):
            object.__setattr__(self, "scale", RatingScale.detect(self.rating))

    def _check(self) -> None:
        n = len(self.rating)
        for name in ("user_idx", "item_idx") + (("timestamp",) if self.timestamp is not None else ()):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, rating has {n}")
        if n and (self.user_idx.min() < 0 or self.user_idx.max() >= len(self.users)):
            raise ValueError(f"user_idx out of range for {len(self.users)} users")
        if n and (self.item_idx.min() < 0 or self.item_idx.max() >= len(self.items)):
            raise ValueError(f"item_idx out of range for {len(self.items)} items")

    def __len__(self) -> int:
        return len(self.rating)

    def __repr__(self) -> str:
        return (
            f"Ratings(n={len(self)}, users={self.n_rating_users}/{len(self.users)}, "
            f"items={self.n_rating_items}/{len(self.items)}, scale={self.scale}, "
            f"timestamps={'yes' if self.timestamp is not None else 'no'})"
        )

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_rating_users(self) -> int:
        """Users with at least one rating in this part."""
        return int(np.unique(self.user_idx).size)

    @property
    def n_rating_items(self) -> int:
        """Items with at least one rating in this part."""
        return int(np.unique(self.item_idx).size)

    @property
    def density(self) -> float:
        return len(self) / max(1, self.n_users * self.n_items)

    def subset(self, mask_or_idx: np.ndarray) -> Ratings:
        """A new Ratings holding the selected rows, over the same id maps and scale."""
        ts = None if self.timestamp is None else self.timestamp[mask_or_idx]
        return Ratings(
            self.user_idx[mask_or_idx], self.item_idx[mask_or_idx], self.rating[mask_or_idx],
            self.users, self.items, ts, self.scale,
        )

    def user_counts(self) -> np.ndarray:
        """(n_users,) ratings per user index."""
        return np.bincount(self.user_idx, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """(n_items,) ratings per item index."""
        return np.bincount(self.item_idx, minlength=self.n_items)

    def to_frame(self) -> pd.DataFrame:
        """Raw ids and ratings as a DataFrame (for display and export)."""
        frame = pd.DataFrame(
            {
                "user_id": self.users.to_id(self.user_idx),
                "item_id": self.items.to_id(self.item_idx),
                "rating": self.rating,
            }
        )
        if self.timestamp is not None:
            frame["timestamp"] = self.timestamp
        return frame

    def reindexed(self, users: IdMap, items: IdMap) -> Ratings:
        """The same ratings over larger id maps (that contain every id used here)."""
        user_idx = users.to_idx(self.users.to_id(self.user_idx))
        item_idx = items.to_idx(self.items.to_id(self.item_idx))
        return Ratings(user_idx, item_idx, self.rating, users, items, self.timestamp, self.scale)


def union_maps(a: IdMap, b: IdMap) -> IdMap:
    """Ids of ``a`` in their order, then ids only in ``b``: indices of ``a`` stay valid."""
    extra = b.index.difference(a.index, sort=False)
    if len(extra) and a.is_integer != pd.api.types.is_integer_dtype(extra.dtype):
        return IdMap(pd.Index(list(a.index.astype(str)) + list(extra.astype(str))), a.name)
    return IdMap(a.index.append(extra), a.name)
