"""Accuracy and ranking metrics: arrays in, numbers out."""

from __future__ import annotations

import numpy as np


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error."""
    diff = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.sqrt(np.mean(diff**2))) if diff.size else float("nan")


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error."""
    diff = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.mean(np.abs(diff))) if diff.size else float("nan")


def ranking_metrics(top_k: np.ndarray, relevant: list[np.ndarray], n_items: int) -> dict[str, float]:
    """Precision, recall and NDCG at k averaged over users, and catalogue coverage.

    Parameters
    ----------
    top_k : (n_users, k) int
        Each evaluated user's recommended item indices, best first (-1 pads short lists).
    relevant : list of arrays
        Each user's relevant held-out item indices (same order as ``top_k``); users with none
        should be left out by the caller, since precision and recall are undefined for them.
    n_items : int
        Catalogue size, for coverage.
    """
    n_users, k = top_k.shape
    if n_users == 0:
        return {"precision": float("nan"), "recall": float("nan"), "ndcg": float("nan"), "coverage": 0.0, "users": 0}
    precision, recall, ndcg = per_user(top_k, relevant)
    shown = np.unique(top_k[top_k >= 0])
    return {"precision": float(precision.mean()), "recall": float(recall.mean()), "ndcg": float(ndcg.mean()),
            "coverage": len(shown) / n_items, "users": n_users}


def per_user(top_k: np.ndarray, relevant: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's precision, recall and NDCG at k: three (n_users,) arrays (arguments as ``ranking_metrics``)."""
    n_users, k = top_k.shape
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # (k,)
    precision, recall, ndcg = np.empty(n_users), np.empty(n_users), np.empty(n_users)
    for row, (recs, rel) in enumerate(zip(top_k, relevant)):
        hits = np.isin(recs, rel) & (recs >= 0)  # (k,)
        precision[row] = hits.sum() / k
        recall[row] = hits.sum() / len(rel)
        ideal = discounts[: min(len(rel), k)].sum()
        ndcg[row] = (hits * discounts).sum() / ideal
    return precision, recall, ndcg
