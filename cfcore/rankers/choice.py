"""The "tuned" ranking kind: the factor model the Train form's knobs train, on what people chose (see ``choice.py``).

Its user and item vectors are trained beside the rating model in the same run, with the same embedding
dimension, learning rate, batch size, epochs, weight decay, optimizer and early stopping, on a softmax over
items: the knobs move the lists. Its item vectors are the ones the map, similar movies and "because they
liked" show; a new user is folded in against them (a few Newton steps on the same softmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfcore.choice import ChoiceArrays, ChoiceTrainer
from cfcore.config import TrainConfig
from cfcore.errors import CheckpointError
from cfcore.rankers.base import Ranker, RankerParams, setting, stored_array
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings
from cfcore.split import split

FOLD_IN_STEPS = 12  # Newton steps for a new user's vector (the objective is concave: a few suffice)
FOLD_IN_L2 = 1.0  # ridge on a new user's vector, as the rating model's fold-in


@dataclass(frozen=True)
class TunedParams(RankerParams):
    """How the tuned model's softmax is computed and judged while it trains (the rest are the form's knobs)."""

    negatives: int = setting(1024, low=1, high=1_000_000, integer=True, label="Sampled softmax: negatives",
                             help="Catalogues too large for a softmax over every item compare each choice with this "
                                  "many items drawn by popularity (shared by the batch, their popularity "
                                  "corrected for).")
    # 2,000: on the built-in data (9,066 movies) the full softmax took ~4x the sampled one's epoch time for
    # lists no better (NDCG@10 0.243 against 0.246, split seed 0); on small catalogues it costs little more
    full_softmax_items: int = setting(2_000, low=1, high=10_000_000, integer=True,
                                      label="Full softmax up to (items)",
                                      help="Up to this many items, every choice is compared with the whole "
                                           "catalogue (exact); above it, with the sampled negatives (faster).")
    eval_users: int = setting(1000, low=1, high=10_000_000, integer=True, label="Users judged per epoch",
                              help="Validation users whose lists are scored (NDCG@10) after every epoch, for the "
                                   "live chart and early stopping.")


class TunedRanker(Ranker):
    """Lists by a choice model: score = user vector . item vector + item bias (softmax-trained)."""

    kind = "tuned"
    label = "tuned factor model"
    summary = ("User and movie vectors trained with your settings on which movies people chose (a softmax over "
               "movies, each rating a choice weighted by its stars): the knobs move the lists.")
    order = 0
    trained = True
    Params = TunedParams
    because_measure = "similarity"
    because_help = "Similarity: cosine of the two movies' vectors in the tuned model (1 = same direction)."

    def __init__(self, arrays: ChoiceArrays, scale_top: float) -> None:
        self.arrays, self.scale_top = arrays, float(scale_top)
        q = arrays.item_vectors
        self._unit = q / np.maximum(np.linalg.norm(q, axis=1), 1e-12)[:, None]  # (I, D)

    @classmethod
    def trainer(cls, train: Ratings, val: Ratings, config: TrainConfig, params: TunedParams, *,  # type: ignore
                k: int = 10, threshold: float = 4.0) -> ChoiceTrainer:
        return ChoiceTrainer(train, val, config, negatives=params.negatives,
                             full_softmax_items=params.full_softmax_items, eval_users=params.eval_users, k=k,
                             threshold=threshold)

    @classmethod
    def memory_needed(cls, n_users: int, n_items: int, config: TrainConfig, params: TunedParams) -> int:
        width = n_items if n_items <= params.full_softmax_items else params.negatives + 1
        return ChoiceTrainer.memory_needed(n_users, n_items, config.embedding_dim, config.batch_size, width)

    @classmethod
    def from_trainer(cls, trainer: ChoiceTrainer) -> TunedRanker:  # type: ignore[override]
        return cls(trainer.arrays(best=True), trainer.train.scale.max)

    @classmethod
    def fit(cls, train: Ratings, params: TunedParams, rating: RatingModel) -> TunedRanker:
        """Trained with the recommended settings, early-stopped on a tenth of ``train`` held out (outside a run,
        where the form's knobs and a validation split drive it through ``trainer``)."""
        parts = split(train, "random", 0.1, 0)
        trainer = cls.trainer(parts.train, parts.val, TrainConfig(ranking_model=cls.kind), params)
        for epoch in range(1, trainer.config.epochs + 1):
            for _ in trainer.epoch(epoch):
                pass
            if trainer.config.early_stopping is not None and trainer.stale_epochs > trainer.config.early_stopping:
                break
        return cls(trainer.arrays(best=True), train.scale.max)

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        a = self.arrays
        return (a.user_vectors[user_idx] @ a.item_vectors.T + a.item_bias).astype(np.float32)  # (n, I)

    def profile_vector(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        """(D,) the vector that best explains these choices under the fixed item vectors: Newton steps on
        sum_i w_i log softmax(p . Q + c)_i - l2 |p|^2 (concave, so each step goes uphill)."""
        q = self.arrays.item_vectors.astype(np.float64)  # (I, D)
        bias = self.arrays.item_bias.astype(np.float64)
        weight = np.clip(np.asarray(rating, np.float64) / max(self.scale_top, 1e-9), 1e-3, None)  # (m,)
        target = weight @ q[item_idx]  # (D,)
        total = weight.sum()
        vec = np.zeros(q.shape[1])
        for _ in range(FOLD_IN_STEPS):
            scores = q @ vec + bias  # (I,)
            prob = np.exp(scores - scores.max())
            prob /= prob.sum()
            mean = prob @ q  # (D,)
            grad = target - total * mean - 2 * FOLD_IN_L2 * vec
            cov = (q * prob[:, None]).T @ q - np.outer(mean, mean)  # (D, D)
            step = np.linalg.solve(total * cov + 2 * FOLD_IN_L2 * np.eye(len(vec)), grad)
            vec = vec + step
            if np.abs(step).max() < 1e-6:
                break
        return vec.astype(np.float32)

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        vec = self.profile_vector(np.asarray(item_idx, np.int64), rating)
        return (self.arrays.item_vectors @ vec + self.arrays.item_bias).astype(np.float32)  # (I,)

    def similar(self, item_idx: int) -> np.ndarray:
        return self._unit @ self._unit[item_idx]  # (I,) cosine

    def because(self, item_idx: np.ndarray, rating: np.ndarray, target_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """The profile's items closest to the target in the tuned model's space; only positive cosines."""
        item_idx = np.asarray(item_idx, np.int64)
        sims = self._unit[item_idx] @ self._unit[target_idx]  # (m,)
        order = np.argsort(-sims, kind="stable")
        order = order[sims[order] > 0]
        return item_idx[order], sims[order]

    def item_vectors(self) -> np.ndarray:
        return self.arrays.item_vectors

    def user_vectors(self) -> np.ndarray:
        return self.arrays.user_vectors

    def to_arrays(self) -> dict[str, np.ndarray]:
        a = self.arrays
        return {"user_vectors": a.user_vectors, "item_vectors": a.item_vectors, "item_bias": a.item_bias,
                "scale_top": np.array([self.scale_top])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_users: int, n_items: int) -> TunedRanker:
        users, items = stored_array(arrays, "user_vectors"), stored_array(arrays, "item_vectors")
        if users.ndim != 2 or items.ndim != 2 or users.shape != (n_users, items.shape[1]) or len(items) != n_items:
            raise CheckpointError(f"the tuned model's vectors {users.shape}, {items.shape} do not fit {n_users} users "
                                  f"x {n_items} items")
        bias = stored_array(arrays, "item_bias", (n_items,))
        return cls(ChoiceArrays(users.astype(np.float32), items.astype(np.float32), bias.astype(np.float32)),
                   float(stored_array(arrays, "scale_top", (1,))[0]))
