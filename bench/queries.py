"""Latency of the explore queries on a catalogue of 60,000 movies x 50 dimensions.

    python -m bench.queries [--items 60000] [--users 20000] [--dim 50]

Prints the median and 95th percentile over repeated calls of: a user's top-10 (seen items
excluded), similar movies, a fold-in from 5 ratings with recommendations, and the embedding map
(PCA of every movie, the Plotly figure built and serialised as the browser receives it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cfcore.ids import IdMap
from cfcore.projection import axis_title, most_distinct_genre, project
from cfcore.queries import Recommender
from cfcore.rankers.mf import RatingModelRanker
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings
from cfcore.records import RunRecord


def build(n_users: int, n_items: int, dim: int, per_user: int, seed: int = 0) -> Recommender:
    """Random rating-model weights (lists by the rating model) over Zipf-distributed training ratings."""
    rng = np.random.default_rng(seed)
    rating = RatingModel(rng.normal(0, 0.3, (n_users, dim)).astype(np.float32),
                         rng.normal(0, 0.3, (n_items, dim)).astype(np.float32), np.zeros(n_users, np.float32),
                         rng.normal(0, 0.3, n_items).astype(np.float32), 3.5, (0.5, 5.0))
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    user_idx = np.repeat(np.arange(n_users), per_user)
    item_idx = rng.choice(n_items, len(user_idx), p=popularity)
    pairs = np.unique(user_idx.astype(np.int64) * n_items + item_idx)
    train = Ratings(pairs // n_items, pairs % n_items, rng.integers(1, 11, len(pairs)).astype(np.float32) / 2,
                    IdMap(np.arange(n_users), "user"), IdMap(np.arange(n_items), "item"))
    catalog = pd.DataFrame({"item_id": np.arange(n_items), "title": [f"Movie {i}" for i in range(n_items)],
                            "year": rng.integers(1920, 2024, n_items).astype(float),
                            "genres": rng.choice(["Drama", "Comedy|Romance", "Action|Sci-Fi", "Horror"], n_items)})
    record = RunRecord.from_legacy({"embedding_dim": dim, "ranking_model": RatingModelRanker.kind},
                                   {"best_epoch": 1, "val_rmse": float("nan")}, [], dataset="random weights")
    return Recommender.build(rating, RatingModelRanker(rating), train, catalog).with_record(record)


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1e3, float(np.percentile(times, 95)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rec = build(args.users, args.items, args.dim, per_user=100)
    rng = np.random.default_rng(1)
    users = rng.integers(0, args.users, 1000)
    items = rng.integers(0, 2000, 1000)
    counter = iter(range(10**9))
    pairs = [(int(i), 4.0) for i in rng.integers(0, 2000, 5)]
    print(f"model: {args.items:,} movies x {args.dim} dims, {args.users:,} users, "
          f"{len(rec.seen.items):,} training ratings")
    rows = [
        ("top-10 for a user", timed(lambda: rec.recommend(int(users[next(counter) % 1000]), 10), args.repeat)),
        ("10 similar movies", timed(lambda: rec.similar_items(int(items[next(counter) % 1000]), 10), args.repeat)),
        ("fold-in (5 ratings) + top-10", timed(lambda: rec.recommend_new_user(pairs, 10), args.repeat)),
    ]

    from cfcore.figures.maps import embedding_map  # plotly; imported here so the core timings above stay pure

    def map_all():  # as the Embeddings page draws it: one genre in colour, axes named by their end titles
        proj = project(rec.item_factors_, 2)
        frame = proj.frame(rec.catalog.frame.assign(bias=rec.item_bias_))
        frame.index = proj.rows
        titles = [axis_title(frame, f"pc{i + 1}", f"PC{i + 1}") for i in range(2)]
        genre = most_distinct_genre(frame[["pc1", "pc2"]].to_numpy(), frame["genres"]) or "Drama"
        return embedding_map(frame, "genre", 2, proj.explained_variance_ratio, genre=genre,
                             axis_titles=titles).to_json()

    rows.append((f"PCA map of all {args.items:,} movies (PCA + figure + JSON)", timed(map_all, 5)))
    print(f"{'query':55s} {'median ms':>10s} {'p95 ms':>10s}")
    for name, (median, p95) in rows:
        print(f"{name:55s} {median:10.2f} {p95:10.2f}")


if __name__ == "__main__":
    main()
