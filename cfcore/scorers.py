"""Model kinds behind one contract: each turns users (known or new) into a score for every item.

The contract, once (indices only; raw ids are the Recommender's business):
- ``score_users(user_idx)`` -> (n, I) float32: higher = rank higher; rank-neutral terms may be left out.
- ``score_profile(item_idx, rating)`` -> (I,): a new user known only by a few ratings (no retraining).
- ``similar(item_idx)`` -> (I,) or None: how much an item goes with each other item, if the kind knows.
- ``because(item_idx, rating, target_idx)`` -> (item_idx, weight): which of a profile's items pushed a
  target up, for kinds that can say (empty otherwise).
- ``to_arrays()`` / ``from_arrays()``: plain data (numbers, strings, arrays) for the checkpoint.

Kinds: ``mf`` (the rating model's own score, unclipped), ``popularity`` (count of ratings), ``ease``
(item-item weights learned from what people chose to rate; see ``ease.py``).
"""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

import numpy as np
import scipy.sparse as sp

from cfcore.ease import EaseWeights, fit_ease, interaction_weight
from cfcore.errors import CheckpointError, ConfigError
from cfcore.ratings import Ratings

RankingKind = Literal["ease", "mf", "popularity"]
RANKING_KINDS: tuple[str, ...] = get_args(RankingKind)
KIND_LABELS = {"ease": "EASE (item-item)", "mf": "rating model (MF)", "popularity": "most popular"}
KEEP_PER_ITEM = 128  # EASE weights kept per item on average: NDCG@10 0.250 vs 0.254 unpruned, 1/70 the size
UNMODELLED = -1.0e4  # score of items a kind does not model: below every modelled item, then by popularity


class Scorer:
    """Base of every model kind (see the module docstring for the contract)."""

    kind: ClassVar[str] = ""
    has_embeddings: ClassVar[bool] = False

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:  # pragma: no cover - every kind overrides
        raise NotImplementedError

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def similar(self, item_idx: int) -> np.ndarray | None:
        return None

    def because(self, item_idx: np.ndarray, rating: np.ndarray, target_idx: int) -> tuple[np.ndarray, np.ndarray]:
        return np.empty(0, np.int64), np.empty(0)

    def to_arrays(self) -> dict:
        return {}

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


class MFScorer(Scorer):
    """The rating model ranks by its raw (unclipped) predicted rating: ties at the clip stay ordered."""

    kind = "mf"
    has_embeddings = True

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray, user_bias: np.ndarray,
                 item_bias: np.ndarray, global_bias: float, reg: float = 1.0) -> None:
        self.user_factors, self.item_factors = user_factors, item_factors  # (U, D), (I, D)
        self.user_bias, self.item_bias, self.global_bias = user_bias, item_bias, global_bias  # (U,), (I,)
        self.reg = reg

    # The rating formula in numpy, spelled here only (model.py's score_from_rows is its torch twin, used to
    # train): raw score = user vector . item vector + user bias + item bias + global bias.

    def score_rows(self, vec: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """(n, I) raw scores of every item for users given by their rows, trained or folded in: (n, D), (n,)."""
        return vec @ self.item_factors.T + self.item_bias + bias[:, None] + self.global_bias  # (n, I)

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        # the full raw prediction (user terms do not change the order, but make the score readable as stars)
        return self.score_rows(self.user_factors[user_idx], self.user_bias[user_idx])  # (n, I)

    def parts(self, user_idx: np.ndarray, item_idx: np.ndarray) -> dict[str, np.ndarray]:
        """The raw score of index pairs, term by term (they sum to it); index -1 is unknown, its terms 0."""
        known_u, known_i = user_idx >= 0, item_idx >= 0  # (n,) each
        u, i = np.where(known_u, user_idx, 0), np.where(known_i, item_idx, 0)
        return {"global mean": np.full(len(u), self.global_bias, np.float32),
                "user bias": self.user_bias[u] * known_u,
                "item bias": self.item_bias[i] * known_i,
                "taste match": np.einsum("nd,nd->n", self.user_factors[u], self.item_factors[i])
                * (known_u & known_i)}  # (n,) each

    def score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """(n,) raw scores of index pairs (-1: unknown, predicted from the known terms)."""
        return sum(self.parts(user_idx, item_idx).values())

    def fold_in(self, item_idx: np.ndarray, rating: np.ndarray) -> tuple[np.ndarray, float]:
        """A new user's vector and bias: ridge regression against the fixed item rows.

        Minimises sum (r - global - item_bias - bias - vec . item_vec)^2 + reg * (|vec|^2 + bias^2).
        """
        x = np.hstack([self.item_factors[item_idx].astype(np.float64), np.ones((len(item_idx), 1))])  # (m, D+1)
        target = np.asarray(rating, np.float64) - self.global_bias - self.item_bias[item_idx]  # (m,)
        gram = x.T @ x + max(self.reg, 1e-9) * np.eye(x.shape[1])  # (D+1, D+1)
        solution = np.linalg.solve(gram, x.T @ target)  # (D+1,)
        return solution[:-1].astype(np.float32), float(solution[-1])

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        vec, bias = self.fold_in(item_idx, rating)
        return self.score_rows(vec[None, :], np.array([bias]))[0]  # (I,)

    def similar(self, item_idx: int) -> np.ndarray:
        norms = np.maximum(np.linalg.norm(self.item_factors, axis=1), 1e-12)  # (I,)
        return (self.item_factors @ self.item_factors[item_idx]) / (norms * norms[item_idx])  # (I,) cosine


class PopularityScorer(Scorer):
    """Everyone gets the most-rated items: the baseline every ranking model must beat."""

    kind = "popularity"

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = np.asarray(counts, np.float32)  # (I,) training ratings per item

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(user_idx), len(self.counts))).copy()  # (n, I)

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        return self.counts.copy()

    def to_arrays(self) -> dict:
        return {"counts": self.counts}

    @classmethod
    def from_arrays(cls, arrays: dict, n_items: int) -> PopularityScorer:
        return cls(_array(arrays, "counts", (n_items,)))


class EaseScorer(Scorer):
    """EASE: a user's score for item j is the sum of the weights from the items they rated to j."""

    kind = "ease"

    def __init__(self, fitted: EaseWeights, n_items: int, scale: tuple[float, float], counts: np.ndarray,
                 profiles: sp.csr_matrix) -> None:
        self.fitted, self.n_items, self.scale = fitted, n_items, (float(scale[0]), float(scale[1]))
        self.counts = np.asarray(counts, np.float32)  # (I,)
        self.profiles = profiles  # (U, m) csr: each training user's interaction weights over modelled items
        self._local = np.full(n_items, -1, np.int64)
        self._local[fitted.items] = np.arange(len(fitted.items))
        self._weights_csr = fitted.weights.tocsr()  # rows: what one item predicts (for `similar`)
        # unmodelled items sit below every modelled one, in order of popularity
        self._floor = (UNMODELLED + np.log1p(self.counts)).astype(np.float32)  # (I,)

    @classmethod
    def fit(cls, user_idx: np.ndarray, item_idx: np.ndarray, rating: np.ndarray, n_users: int, n_items: int,
            scale: tuple[float, float], l2: float, max_items: int, keep: int) -> EaseScorer:
        weight = interaction_weight(rating, *scale)
        fitted = fit_ease(user_idx, item_idx, weight, n_users, n_items, l2, max_items, keep)
        counts = np.bincount(item_idx, minlength=n_items)
        return cls(fitted, n_items, scale, counts, _profiles(fitted, user_idx, item_idx, weight, n_users, n_items))

    def _full(self, local_scores: np.ndarray) -> np.ndarray:
        out = np.broadcast_to(self._floor, (local_scores.shape[0], self.n_items)).copy()  # (n, I)
        out[:, self.fitted.items] = local_scores
        return out

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        local = (self.profiles[np.asarray(user_idx)] @ self.fitted.weights).toarray()  # (n, m)
        return self._full(local.astype(np.float32))

    def _profile_row(self, item_idx: np.ndarray, rating: np.ndarray) -> sp.csr_matrix:
        local = self._local[np.asarray(item_idx, np.int64)]
        keep = local >= 0
        weight = interaction_weight(np.asarray(rating)[keep], *self.scale)
        return sp.csr_matrix((weight, (np.zeros(int(keep.sum()), np.int64), local[keep])),
                             shape=(1, len(self.fitted.items)))

    def score_profile(self, item_idx: np.ndarray, rating: np.ndarray) -> np.ndarray:
        local = (self._profile_row(item_idx, rating) @ self.fitted.weights).toarray()  # (1, m)
        return self._full(local.astype(np.float32))[0]

    def similar(self, item_idx: int) -> np.ndarray | None:
        row = self._local[item_idx]
        if row < 0:
            return None
        local = self._weights_csr[row].toarray()[0]  # (m,) what this item predicts
        return self._full(local[None, :].astype(np.float32))[0]

    def because(self, item_idx: np.ndarray, rating: np.ndarray, target_idx: int) -> tuple[np.ndarray, np.ndarray]:
        target = self._local[target_idx]
        if target < 0:
            return np.empty(0, np.int64), np.empty(0)
        row = self._profile_row(item_idx, rating)  # (1, m)
        column = self.fitted.weights[:, target].toarray()[:, 0]  # (m,)
        contribution = row.toarray()[0] * column  # (m,)
        order = np.argsort(-contribution, kind="stable")
        order = order[contribution[order] > 0]
        return self.fitted.items[order], contribution[order]

    def to_arrays(self) -> dict:
        w, p = self.fitted.weights, self.profiles
        return {"items": self.fitted.items, "indptr": w.indptr.astype(np.int64), "indices": w.indices.astype(np.int32),
                "data": w.data.astype(np.float32), "scale": np.array(self.scale, np.float64), "counts": self.counts,
                "profile_indptr": p.indptr.astype(np.int64), "profile_indices": p.indices.astype(np.int32),
                "profile_data": p.data.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays: dict, n_users: int, n_items: int) -> EaseScorer:
        items = _array(arrays, "items")
        m = len(items)
        if m > n_items or (m and (items.min() < 0 or items.max() >= n_items)):
            raise CheckpointError("EASE item list does not fit the catalogue")
        try:
            weights = sp.csc_matrix((_array(arrays, "data"), _array(arrays, "indices"), _array(arrays, "indptr")),
                                    shape=(m, m))
            profiles = sp.csr_matrix((_array(arrays, "profile_data"), _array(arrays, "profile_indices"),
                                      _array(arrays, "profile_indptr")), shape=(n_users, m))
            weights.check_format(full_check=True)
            profiles.check_format(full_check=True)
        except ValueError as exc:
            raise CheckpointError(f"EASE weights are damaged ({exc})") from None
        scale = _array(arrays, "scale", (2,))
        return cls(EaseWeights(items.astype(np.int64), weights), n_items, (scale[0], scale[1]),
                   _array(arrays, "counts", (n_items,)), profiles)


def fit_ranker(kind: str, train: Ratings, l2: float = 100.0, max_items: int = 10_000) -> Scorer | None:
    """The ranking model of ``kind`` fitted on ``train``; None for ``mf`` (the rating model ranks itself)."""
    if kind == "mf":
        return None
    if kind == "popularity":
        return PopularityScorer(np.bincount(train.item_idx, minlength=train.n_items))
    if kind == "ease":
        return EaseScorer.fit(train.user_idx, train.item_idx, train.rating, train.n_users, train.n_items,
                              (train.scale.min, train.scale.max), l2, max_items, KEEP_PER_ITEM)
    raise ConfigError(f"ranking model must be one of {', '.join(RANKING_KINDS)}; got {kind!r}")


def _profiles(fitted: EaseWeights, user_idx, item_idx, weight, n_users: int, n_items: int) -> sp.csr_matrix:
    local = np.full(n_items, -1, np.int64)
    local[fitted.items] = np.arange(len(fitted.items))
    keep = local[item_idx] >= 0
    return sp.csr_matrix((weight[keep].astype(np.float32), (user_idx[keep], local[item_idx[keep]])),
                         shape=(n_users, len(fitted.items)))


def _array(arrays: dict, name: str, shape: tuple | None = None) -> np.ndarray:
    if name not in arrays:
        raise CheckpointError(f"ranking model is missing its {name!r} array")
    value = np.asarray(arrays[name])
    if shape is not None and value.shape != shape:
        raise CheckpointError(f"ranking model's {name!r} has shape {value.shape}, expected {shape}")
    return value
