"""The "most popular" ranking kind: everyone gets the most-rated items, the floor every other kind must beat."""

from __future__ import annotations

import numpy as np

from cfcore.rankers.base import NoParams, Ranker, stored_array
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings


class PopularityRanker(Ranker):
    """Scores every item by its count of training ratings, for every user alike."""

    kind = "popularity"
    label = "most popular"
    summary = "Everyone gets the most-rated movies: the floor a ranking model must beat."
    order = 3
    reference = floor = True

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = np.asarray(counts, np.float32)  # (I,) training ratings per item

    @classmethod
    def fit(cls, train: Ratings, params: NoParams, rating: RatingModel) -> PopularityRanker:
        return cls(np.bincount(train.item_idx, minlength=train.n_items))

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(user_idx), len(self.counts))).copy()  # (n, I)

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        return self.counts.copy()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_users: int, n_items: int) -> PopularityRanker:
        return cls(stored_array(arrays, "counts", (n_items,)))
