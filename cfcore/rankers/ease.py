"""The EASE ranking kind (Steck 2019): item-item weights in closed form from who rated what, pruned to a sparse matrix.

EASE learns B (items x items, zero diagonal) minimising |X - X B|^2 + l2 |B|^2, where X holds who
rated what (weighted by the rating). Its solution is B = I - P / diag(P) with P = (X^T X + l2 I)^-1.
When users are fewer than items, Woodbury gives the same P from a users x users inverse:
P = (I - X^T K X) / l2 with K = (X X^T + l2 I)^-1, so the cost follows the smaller side.
Only the ``keep * items`` largest weights (by magnitude) are kept, so the model is a sparse matrix
whose size grows with the catalogue, not its square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cfcore.errors import CheckpointError, ConfigError
from cfcore.rankers.base import UNMODELLED, Ranker, RankerParams, setting, stored_array
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings
from cfcore.sizes import fits, human_bytes

BLOCK = 1024  # columns of B computed (and pruned) at a time: bounds memory to items x BLOCK
KEEP_PER_ITEM = 128  # EASE weights kept per item on average: NDCG@10 0.250 vs 0.254 unpruned, 1/70 the size


@dataclass(frozen=True)
class EaseWeights:
    """A fitted EASE: sparse weights over the modelled items (the most-rated ones, up to a limit)."""

    items: np.ndarray  # (m,) int: catalogue index of each modelled item, most-rated first
    weights: sp.csc_matrix  # (m, m): column j = how much each modelled item predicts item j


def interaction_weight(rating: np.ndarray, low: float, high: float) -> np.ndarray:
    """Rating -> interaction strength in [0.1, 1]: a 5-star watch says more about taste than a 1-star one.

    Every rating still counts as a choice to watch (never zero); measured on the built-in data this
    ranks better than treating every rating alike (NDCG@10 0.254 vs 0.236).
    """
    span = max(high - low, 1e-9)
    return (0.1 + 0.9 * np.clip((np.asarray(rating, np.float64) - low) / span, 0.0, 1.0)).astype(np.float64)


def memory_needed(n_users: int, n_items: int, max_items: int) -> int:
    """Bytes the fit needs at its peak (float64 work matrices of the smaller side, squared, three times)."""
    modelled = min(n_items, max_items)
    side = min(n_users, modelled)
    return 3 * side * side * 8 + 3 * modelled * min(BLOCK, modelled) * 8


def fit_ease(user_idx: np.ndarray, item_idx: np.ndarray, weight: np.ndarray, n_users: int, n_items: int,
             l2: float, max_items: int, keep: int) -> EaseWeights:
    """EASE weights for the ``max_items`` most-rated items (each needs at least one rating).

    Parameters
    ----------
    user_idx, item_idx, weight : (n,) arrays
        The training interactions and their strength (see ``interaction_weight``).
    l2 : float
        The L2 strength; larger = smoother, more popular lists.
    max_items : int
        At most this many items are modelled (the rest are never ranked by EASE).
    keep : int
        Weights kept per modelled item on average after pruning (a budget over the whole matrix).
    """
    if l2 <= 0:
        raise ConfigError(f"EASE's L2 strength must be > 0; got {l2!r}")
    counts = np.bincount(item_idx, minlength=n_items)  # (I,)
    rated = np.flatnonzero(counts)
    items = rated[np.argsort(-counts[rated], kind="stable")][:max_items]  # (m,) most-rated first
    m = len(items)
    local = np.full(n_items, -1, np.int64)
    local[items] = np.arange(m)
    mask = local[item_idx] >= 0
    x = sp.csr_matrix((weight[mask], (user_idx[mask], local[item_idx[mask]])), shape=(n_users, m))  # (U, m)
    keep = max(1, min(keep, m))
    # P is symmetric, so column j of B is row j of P over -P_jj: blocks are built as rows (contiguous)
    if m <= n_users:
        gram = (x.T @ x).toarray() + l2 * np.eye(m)  # (m, m)
        p = np.linalg.inv(gram)  # (m, m) symmetric positive definite
        diag = np.diag(p).copy()  # (m,)
        p_rows = (lambda lo, hi: p[lo:hi])
    else:
        k = np.linalg.inv((x @ x.T).toarray() + l2 * np.eye(n_users))  # (U, U)
        kx = np.asarray(x.T @ k).T  # (U, m) = K X
        diag = (1.0 - np.asarray(x.multiply(kx).sum(axis=0)).ravel()) / l2  # (m,) diag of P
        xt = x.T.tocsr()  # (m, U)

        def p_rows(lo, hi):
            block = np.ascontiguousarray((xt @ kx[:, lo:hi]).T) / -l2  # (b, m) = -(X^T K X)[lo:hi] / l2
            block[np.arange(hi - lo), np.arange(lo, hi)] += 1.0 / l2
            return block

    # pruning: each column offers its `candidates` largest weights, then the largest `keep * m` of
    # those survive overall; on the built-in data a global budget ranks far better than the same
    # number kept per column (NDCG@10 0.251 vs 0.235 at 128 per item; 0.254 unpruned)
    candidates = max(1, min(m, 8 * keep))
    rows, cols, values = [], [], []
    for lo in range(0, m, BLOCK):
        hi = min(lo + BLOCK, m)
        block = (p_rows(lo, hi) / -diag[lo:hi, None]).astype(np.float32)  # (b, m): B[:, lo:hi] transposed
        block[np.arange(hi - lo), np.arange(lo, hi)] = 0.0  # an item never predicts itself
        top = np.argpartition(-np.abs(block), candidates - 1, axis=1)[:, :candidates] if candidates < m else \
            np.broadcast_to(np.arange(m), (hi - lo, m))  # (b, c)
        rows.append(top.ravel())
        cols.append(np.repeat(np.arange(lo, hi), top.shape[1]))
        values.append(np.take_along_axis(block, top, axis=1).ravel())
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    values_all = np.concatenate(values).astype(np.float32)
    budget = keep * m
    if budget < len(values_all):
        chosen = np.argpartition(-np.abs(values_all), budget - 1)[:budget]
        rows_all, cols_all, values_all = rows_all[chosen], cols_all[chosen], values_all[chosen]
    weights = sp.csc_matrix((values_all, (rows_all.astype(np.int32), cols_all.astype(np.int32))), shape=(m, m))
    weights.eliminate_zeros()
    return EaseWeights(items.astype(np.int64), weights)


@dataclass(frozen=True)
class EaseParams(RankerParams):
    """What EASE is fitted with."""

    l2: float = setting(100.0, low=1e-3, high=1e6, label="EASE L2 strength",
                        help="Larger values give smoother lists that lean towards popular movies.")
    max_items: int = setting(10_000, low=1, high=1_000_000, integer=True, label="EASE: most-rated movies modelled",
                             help="EASE models at most this many of the most-rated movies (memory and time grow "
                                  "with the square; 10,000 take about 2.4 GiB and 45 s on 2 cores).")


class EaseRanker(Ranker):
    """EASE: a user's score for item j is the sum of the weights from the items they rated to j."""

    kind = "ease"
    label = "EASE (item-item)"
    summary = ("Learns from which movies people rated together (its top-10 lists are about 5x better than the "
               "rating model's on MovieLens); stars and explanations still come from the rating model.")
    order = 1
    reference = True  # the strongest list that needs no training: every run's lists are judged beside it
    Params = EaseParams
    because_measure = "weight"
    because_help = "Weight: how strongly people who rated that movie also rated this one, as EASE learned it."
    slow_fit = True  # seconds on the built-in data, a minute at 10,000 movies

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
    def fit(cls, train: Ratings, params: EaseParams, rating: RatingModel) -> EaseRanker:
        scale = (train.scale.min, train.scale.max)
        weight = interaction_weight(train.rating, *scale)
        fitted = fit_ease(train.user_idx, train.item_idx, weight, train.n_users, train.n_items, params.l2,
                          params.max_items, KEEP_PER_ITEM)
        counts = np.bincount(train.item_idx, minlength=train.n_items)
        profiles = _profiles(fitted, train.user_idx, train.item_idx, weight, train.n_users, train.n_items)
        return cls(fitted, train.n_items, scale, counts, profiles)

    @classmethod
    def check_fits(cls, n_users: int, n_items: int, params: EaseParams, free_bytes: int | None) -> None:
        """Refuse an EASE fit that would not fit in memory, saying how to make it fit."""
        need = memory_needed(n_users, n_items, params.max_items)
        if not fits(need, free_bytes):
            side = min(n_users, n_items, params.max_items)
            raise ConfigError(
                f"the EASE ranking model needs about {human_bytes(need)} for {side:,} x {side:,} work matrices, more "
                f"than the {human_bytes(free_bytes)} free; lower its max_items (now {params.max_items:,}; the CLI's "
                "--ease-max-items) or choose another ranking model")

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

    def to_arrays(self) -> dict[str, np.ndarray]:
        w, p = self.fitted.weights, self.profiles
        return {"items": self.fitted.items, "indptr": w.indptr.astype(np.int64), "indices": w.indices.astype(np.int32),
                "data": w.data.astype(np.float32), "scale": np.array(self.scale, np.float64), "counts": self.counts,
                "profile_indptr": p.indptr.astype(np.int64), "profile_indices": p.indices.astype(np.int32),
                "profile_data": p.data.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_users: int, n_items: int) -> EaseRanker:
        items = stored_array(arrays, "items")
        m = len(items)
        if m > n_items or (m and (items.min() < 0 or items.max() >= n_items)):
            raise CheckpointError("EASE item list does not fit the catalogue")
        try:
            weights = sp.csc_matrix((stored_array(arrays, "data"), stored_array(arrays, "indices"),
                                     stored_array(arrays, "indptr")), shape=(m, m))
            profiles = sp.csr_matrix((stored_array(arrays, "profile_data"), stored_array(arrays, "profile_indices"),
                                      stored_array(arrays, "profile_indptr")), shape=(n_users, m))
            weights.check_format(full_check=True)
            profiles.check_format(full_check=True)
        except ValueError as exc:
            raise CheckpointError(f"EASE weights are damaged ({exc})") from None
        scale = stored_array(arrays, "scale", (2,))
        return cls(EaseWeights(items.astype(np.int64), weights), n_items, (scale[0], scale[1]),
                   stored_array(arrays, "counts", (n_items,)), profiles)


def _profiles(fitted: EaseWeights, user_idx, item_idx, weight, n_users: int, n_items: int) -> sp.csr_matrix:
    """(U, m) each training user's interaction weights over the modelled items."""
    local = np.full(n_items, -1, np.int64)
    local[fitted.items] = np.arange(len(fitted.items))
    keep = local[item_idx] >= 0
    return sp.csr_matrix((weight[keep].astype(np.float32), (user_idx[keep], local[item_idx[keep]])),
                         shape=(n_users, len(fitted.items)))
