"""Ranking candidates side by side, and batch recommendation speed.

    python -m bench.ranking                 # quality: built-in MovieLens sample + synthetic data with popularity skew
    python -m bench.ranking --batch         # speed: `python -m cfcore recommend --all-users` at 10,000 items

Quality: a random 90/10 split (seed 0, or --seeds); relevant = a held-out rating >= 4 (on synthetic
data, >= its 75th percentile); every item the user did not rate in training is ranked; top 10,
averaged over users with at least one relevant item. Candidates: most popular, the rating model
(biased MF, default training, ranked by its unclipped score), EASE on 0/1 interactions (lambda 300,
the issue's setting), EASE weighted by rating unpruned, and CF Studio's default (EASE weighted by
rating, lambda 100, pruned to 128 weights per item). Prints P@10, R@10, NDCG@10, coverage and fit time.

Batch: builds a model of 100,000 users x 10,000 items (random MF weights, EASE fitted on 2M
Zipf-distributed ratings), saves it, and times the CLI end to end for each ranking kind.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cfcore import checkpoint
from cfcore.config import TrainConfig
from cfcore.data.load import load_dataset
from cfcore.metrics import ranking_metrics
from cfcore.rankers.base import Ranker
from cfcore.rankers.ease import EaseParams, EaseRanker, EaseWeights, _profiles, fit_ease, interaction_weight
from cfcore.rankers.mf import RatingModelRanker
from cfcore.rankers.popularity import PopularityRanker
from cfcore.split import split
from cfcore.train import TrainingRun

ROOT = Path(__file__).resolve().parents[1]


class _Ease(EaseRanker):
    """EASE with chosen interaction weights (0/1, or by rating) and pruning, for the comparison only."""

    @classmethod
    def build(cls, train, l2: float, keep: int, binary: bool) -> EaseRanker:
        scale = (train.scale.min, train.scale.max)
        weight = np.ones(len(train)) if binary else interaction_weight(train.rating, *scale)
        fitted = fit_ease(train.user_idx, train.item_idx, weight, train.n_users, train.n_items, l2, 10_000, keep)
        profiles = _profiles(fitted, train.user_idx, train.item_idx, weight, train.n_users, train.n_items)
        return cls(EaseWeights(fitted.items, fitted.weights), train.n_items, scale,
                   np.bincount(train.item_idx, minlength=train.n_items), profiles)


def evaluate(scorer: Ranker, train, val, threshold: float) -> dict[str, float]:
    users = np.unique(val.user_idx[val.rating >= threshold])
    order = np.argsort(val.user_idx, kind="stable")
    relevant = [val.item_idx[order][(val.user_idx[order] == u) & (val.rating[order] >= threshold)] for u in users]
    seen = sp.csr_matrix((np.ones(len(train)), (train.user_idx, train.item_idx)), shape=(train.n_users, train.n_items))
    tops = []
    for start in range(0, len(users), 1024):
        batch = users[start:start + 1024]
        scores = scorer.score_users(batch).astype(np.float64)
        scores[seen[batch].toarray() > 0] = -np.inf
        tops.append(np.argsort(-scores, axis=1, kind="stable")[:, :10])
    return ranking_metrics(np.vstack(tops), relevant, train.n_items)


def quality(source: str, seed: int, threshold: float | None) -> None:
    dataset = load_dataset(source)
    parts = split(dataset.ratings, "random", 0.1, seed)
    train, val = parts.train, parts.val
    if threshold is None:
        threshold = float(np.quantile(train.rating, 0.75))
    started = time.perf_counter()
    run = TrainingRun(train, val, TrainConfig())
    for _ in run:
        pass
    mf_seconds = time.perf_counter() - started
    by_rating = RatingModelRanker(run.finish())
    candidates = [("most popular", lambda: PopularityRanker(np.bincount(train.item_idx, minlength=train.n_items))),
                  ("rating model (MF, unclipped)", lambda: by_rating),
                  ("EASE 0/1, lambda 300", lambda: _Ease.build(train, 300.0, 10**9, binary=True)),
                  ("EASE by rating, lambda 100, unpruned", lambda: _Ease.build(train, 100.0, 10**9, binary=False)),
                  ("EASE by rating, lambda 100, 128/item (default)",
                   lambda: _Ease.build(train, 100.0, 128, binary=False))]
    print(f"\n{dataset.name}: {len(train):,} train / {len(val):,} validation ratings, {train.n_users:,} users x "
          f"{train.n_items:,} items; split seed {seed}; relevant = rating >= {threshold:g}; "
          f"rating model val RMSE {run.best_val_rmse:.4f}")
    print("| ranking | P@10 | R@10 | NDCG@10 | coverage | fit s |")
    print("|---|---|---|---|---|---|")
    for name, build in candidates:
        started = time.perf_counter()
        scorer = build()
        seconds = mf_seconds if scorer is by_rating else time.perf_counter() - started
        m = evaluate(scorer, train, val, threshold)
        print(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['ndcg']:.4f} | {m['coverage']:.1%} | "
              f"{seconds:.1f} |", flush=True)


def batch_speed(n_users: int, n_items: int, n_ratings: int) -> None:
    from bench.queries import build  # a Recommender of random MF weights with Zipf-distributed training ratings

    rec = build(n_users, n_items, 50, per_user=max(1, n_ratings // n_users))
    started = time.perf_counter()
    from cfcore.ratings import Ratings

    owner = np.repeat(np.arange(rec.n_users), rec.seen.counts())
    train = Ratings(owner, rec.seen.items.astype(np.int64), rec.seen.ratings, rec.users, rec.items)
    ease = EaseRanker.fit(train, EaseParams(), rec.rating)
    print(f"model: {rec.n_users:,} users x {rec.n_items:,} items, {len(train):,} training ratings; "
          f"EASE fitted in {time.perf_counter() - started:.1f} s")
    print("| ranking kind | users | seconds (CLI, end to end) | users per minute |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for ranker in (rec.ranker, ease):  # the rating model's own lists, then EASE's
            kind = ranker.kind
            ranked = rec.with_record(replace(rec.record, config=rec.record.config.replace(ranking_model=kind)))
            ranked.ranker = ranker
            path = checkpoint.save(ranked, Path(tmp) / f"{kind}.pt")
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "cfcore", "recommend", "--model", str(path), "--all-users", "-k",
                            "10", "--out", str(Path(tmp) / "recs.csv")], check=True, cwd=ROOT)
            seconds = time.perf_counter() - started
            rows = sum(1 for _ in open(Path(tmp) / "recs.csv")) - 1
            assert rows == 10 * rec.n_users, rows
            print(f"| {kind} | {rec.n_users:,} | {seconds:.1f} | {rec.n_users / seconds * 60:,.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", action="store_true", help="time batch recommendations instead")
    parser.add_argument("--seeds", default="0", help="split seeds for the quality table, e.g. 0,1,2")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    if args.batch:
        batch_speed(100_000, 10_000, 2_000_000)
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        quality("builtin:movielens", seed, 4.0)
    if not args.skip_synthetic:
        quality("builtin:synthetic?n_ratings=1000000&popularity_exponent=1.0&seed=0", 0, None)


if __name__ == "__main__":
    main()
