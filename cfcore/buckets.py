"""Error where it lives: held-out RMSE and MAE by user activity and by movie popularity, NDCG by user activity.

A single validation RMSE hides that a model knows heavy users and popular movies well and light users
and rare movies badly. Here held-out ratings are grouped by how many training ratings their user (or
their movie) had: 0 (not in training), 1-5, 6-20, 21-100, over 100.
"""

from __future__ import annotations

import numpy as np

from cfcore.ratings import Ratings
from cfcore.recommender import Recommender

UPPER = (0, 5, 20, 100)  # a bucket's largest training count; above the last: "over 100"
LABELS = ("0 (new)", "1-5", "6-20", "21-100", "over 100")
SIDES = {"users": "user activity (their ratings in training)",
         "movies": "movie popularity (its ratings in training)"}


def bucket_of(counts: np.ndarray) -> np.ndarray:
    """(n,) bucket index 0..4 of each training count."""
    return np.searchsorted(np.array(UPPER), np.asarray(counts), side="left")


def error_by_bucket(rec: Recommender, held_out: Ratings, k: int = 10, threshold: float = 4.0,
                    max_users: int | None = 5000, seed: int = 0,
                    ndcg_by_user: tuple[np.ndarray, np.ndarray] | None = None) -> list[dict]:
    """One row per non-empty bucket and side: side, bucket, ratings, rmse, mae; user buckets also
    users_ranked and ndcg (NDCG@k of the ranking model's lists for users with a relevant held-out
    rating in that bucket; None when there are none).

    ``held_out`` uses the model's indices (a validation or test split of the data it was trained on).
    ``ndcg_by_user``: (users, NDCG) already measured on ``held_out`` with the same k and threshold (the
    ladder keeps them as ``rec.judged_ndcg_``); when None they are measured here.
    """
    user_counts = np.diff(rec.seen_indptr)  # (U,) training ratings per user
    item_counts = np.bincount(rec.seen_items, minlength=rec.n_items)  # (I,) training ratings per movie
    err = rec.predict_idx(held_out.user_idx, held_out.item_idx) - held_out.rating  # (n,)
    users, ndcg = ndcg_by_user if ndcg_by_user is not None else \
        rec.ndcg_by_user(held_out, k, threshold, max_users, seed)  # (m,), (m,)
    ndcg_bucket = bucket_of(user_counts[users])  # (m,)
    rows = []
    for side, counts, idx in (("users", user_counts, held_out.user_idx), ("movies", item_counts, held_out.item_idx)):
        bucket = bucket_of(counts[idx])  # (n,)
        for b, label in enumerate(LABELS):
            mine = err[bucket == b]
            if not len(mine):
                continue
            row = {"side": side, "bucket": label, "ratings": int(len(mine)),
                   "rmse": float(np.sqrt(np.mean(mine.astype(np.float64) ** 2))),
                   "mae": float(np.mean(np.abs(mine)))}
            if side == "users":
                ranked = ndcg[ndcg_bucket == b]
                row["users_ranked"] = int(len(ranked))
                row["ndcg"] = float(ranked.mean()) if len(ranked) else None
            rows.append(row)
    return rows
