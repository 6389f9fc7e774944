"""The "rating model" ranking kind: lists ordered by the seed's biased MF's own predicted rating, as the seed does."""

from __future__ import annotations

import numpy as np

from cfcore.errors import CheckpointError
from cfcore.rankers.base import NoParams, Ranker, stored_array
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings


class RatingModelRanker(Ranker):
    """Ranks by the raw (unclipped) predicted rating, so picks tied at the top of the scale stay ordered."""

    kind = "mf"
    label = "rating model (MF)"
    summary = "The rating model's own predicted stars (as the seed document ranks)."
    order = 2
    reference = True  # the seed's own lists: what a ranking model has to improve on
    because_measure = "similarity"
    because_help = "Similarity: cosine of the two movies' taste vectors (1 = same direction)."

    def __init__(self, rating: RatingModel) -> None:
        self.rating = rating
        norms = np.linalg.norm(rating.item_factors, axis=1)  # (I,)
        self._unit = rating.item_factors / np.maximum(norms, 1e-12)[:, None]  # (I, D), unrated rows stay zero

    @classmethod
    def fit(cls, train: Ratings, params: NoParams, rating: RatingModel) -> RatingModelRanker:
        return cls(rating)

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        # the full raw prediction (user terms do not change the order, but make the score readable as stars)
        return self.rating.score_users(user_idx)  # (n, I)

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        vec, bias = self.rating.fold_in(item_idx, rating)
        return self.rating.score_rows(vec[None, :], np.array([bias]))[0]  # (I,)

    def similar(self, item_idx: int) -> np.ndarray:
        return self._unit @ self._unit[item_idx]  # (I,) cosine

    def item_vectors(self) -> np.ndarray:
        return self.rating.item_factors  # (I, D)

    def user_vectors(self) -> np.ndarray:
        return self.rating.user_factors  # (U, D)

    def profile_vector(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        return self.rating.fold_in(np.asarray(item_idx, np.int64), rating)[0]  # (D,)

    def because(self, item_idx: np.ndarray, rating: np.ndarray, target_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """The profile's items closest to the target in taste space; only positive cosines (an unlike item
        explains nothing)."""
        sims = self._unit[np.asarray(item_idx, np.int64)] @ self._unit[target_idx]  # (m,)
        order = np.argsort(-sims, kind="stable")
        order = order[sims[order] > 0]
        return np.asarray(item_idx, np.int64)[order], sims[order]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return self.rating.to_arrays()  # its own copy: a checkpoint of an mf run holds the vectors twice

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_users: int, n_items: int) -> RatingModelRanker:
        users, items = stored_array(arrays, "user_factors"), stored_array(arrays, "item_factors")
        if users.ndim != 2 or items.ndim != 2 or len(users) != n_users or len(items) != n_items:
            raise CheckpointError(f"the rating model's vectors ({users.shape}, {items.shape}) do not fit "
                                  f"{n_users} users x {n_items} items")
        for name in ("user_bias", "item_bias", "global_bias", "y_range", "sigmoid"):
            stored_array(arrays, name)
        return cls(RatingModel.from_arrays(arrays))
