"""Error where it lives: held-out RMSE and MAE by user activity and by movie popularity, NDCG by user activity.

A single validation RMSE hides that a model knows heavy users and popular movies well and light users
and rare movies badly. Here held-out ratings are grouped by how many training ratings their user (or
their movie) had: 0 (not in training), 1-5, 6-20, 21-100, over 100.
"""

from __future__ import annotations

import numpy as np

from cfcore.evaluation import ndcg_by_user as measure_ndcg
from cfcore.queries import Recommender
from cfcore.ratings import Ratings
from cfcore.records import BucketRow

UPPER = (0, 5, 20, 100)  # a bucket's largest training count; above the last: "over 100"
LABELS = ("0 (new)", "1-5", "6-20", "21-100", "over 100")
SIDES = {"users": "user activity (their ratings in training)",
         "movies": "movie popularity (its ratings in training)"}


def bucket_of(counts: np.ndarray) -> np.ndarray:
    """(n,) bucket index 0..4 of each training count."""
    return np.searchsorted(np.array(UPPER), np.asarray(counts), side="left")


def error_by_bucket(rec: Recommender, held_out: Ratings, k: int = 10, threshold: float = 4.0,
                    max_users: int | None = 5000, seed: int = 0,
                    ndcg_by_user: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[BucketRow, ...]:
    """One row per non-empty bucket and side: side, bucket, ratings, rmse, mae; user buckets also
    users_ranked and ndcg (NDCG@k of the ranking model's lists for users with a relevant held-out
    rating in that bucket; None when there are none).

    ``held_out`` uses the model's indices (a validation or test split of the data it was trained on).
    ``ndcg_by_user``: (users, NDCG) already measured on ``held_out`` with the same k and threshold (the
    ladder returns them: ``evaluation.Ladder``); when None they are measured here.
    """
    user_counts = rec.seen.counts()  # (U,) training ratings per user
    item_counts = rec.catalog.counts()  # (I,) training ratings per movie
    err = rec.predict_idx(held_out.user_idx, held_out.item_idx) - held_out.rating  # (n,)
    users, ndcg = ndcg_by_user if ndcg_by_user is not None else \
        measure_ndcg(rec, held_out, k, threshold, max_users, seed)  # (m,), (m,)
    ndcg_bucket = bucket_of(user_counts[users])  # (m,)
    rows = []
    for side, counts, idx in (("users", user_counts, held_out.user_idx), ("movies", item_counts, held_out.item_idx)):
        bucket = bucket_of(counts[idx])  # (n,)
        for b, label in enumerate(LABELS):
            mine = err[bucket == b]
            if not len(mine):
                continue
            ranked = ndcg[ndcg_bucket == b] if side == "users" else None
            rows.append(BucketRow(side, label, int(len(mine)), float(np.sqrt(np.mean(mine.astype(np.float64) ** 2))),
                                  float(np.mean(np.abs(mine))),
                                  int(len(ranked)) if ranked is not None else None,
                                  float(ranked.mean()) if ranked is not None and len(ranked) else None))
    return tuple(rows)
