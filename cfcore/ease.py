"""The math of EASE (Steck 2019), the item-item ranking model: closed-form weights, pruned to a sparse matrix.

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

from cfcore.errors import ConfigError

BLOCK = 1024  # columns of B computed (and pruned) at a time: bounds memory to items x BLOCK


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
