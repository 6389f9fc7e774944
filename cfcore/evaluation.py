"""How good a fitted model's lists are, as functions of (model, held-out ratings): the ranking ladder and NDCG by user.

Every item the user did not rate in training is a candidate; a hit is a held-out item rated at least
``threshold``; users with no such item are skipped (precision and recall are undefined for them). Above
``max_users`` judged users a seeded sample is scored, which keeps this to seconds on ML-25M-sized data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfcore.errors import ConfigError
from cfcore.metrics import per_user, ranking_metrics
from cfcore.queries import Recommender
from cfcore.rankers import registry
from cfcore.rankers.base import Ranker
from cfcore.ratings import Ratings
from cfcore.records import RankingRow


@dataclass(frozen=True, eq=False)
class Judged:
    """The users a ranking is judged on, their top-k and each one's relevant held-out items."""

    users: np.ndarray  # (n,) user indices
    top: np.ndarray  # (n, k) item indices
    relevant: list[np.ndarray]


@dataclass(frozen=True, eq=False)
class Ladder:
    """The ladder's rows by kind, and each judged user's NDCG by the model's own ranking (for the buckets)."""

    rows: dict[str, RankingRow]
    users: np.ndarray  # (n,) judged users
    ndcg: np.ndarray  # (n,) their NDCG at k by the model's ranking model


def judged(model: Recommender, test: Ratings, k: int = 10, threshold: float = 4.0, max_users: int | None = 5000,
           seed: int = 0, ranker: Ranker | None = None) -> Judged:
    """Rank the judged users (those with a relevant held-out rating, sampled above ``max_users``) by ``ranker``
    (default: the model's own)."""
    relevant = test.rating >= threshold
    users = np.unique(test.user_idx[relevant])
    users = users[users < model.n_users]
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    if len(users) == 0:
        return Judged(users, np.empty((0, k), np.int64), [])
    order = np.argsort(test.user_idx[relevant], kind="stable")
    rel_users, rel_items = test.user_idx[relevant][order], test.item_idx[relevant][order]
    bounds = np.searchsorted(rel_users, users), np.searchsorted(rel_users, users, side="right")
    return Judged(users, model.top_k_idx(users, k, ranker=ranker), [rel_items[a:b] for a, b in zip(*bounds)])


def ranking_row(model: Recommender, ranked: Judged, k: int, threshold: float) -> RankingRow:
    metrics = ranking_metrics(ranked.top, ranked.relevant, model.n_items)
    return RankingRow(metrics["precision"], metrics["recall"], metrics["ndcg"], metrics["coverage"],
                      int(metrics["users"]), k, float(threshold))


def evaluate_ranking(model: Recommender, test: Ratings, k: int = 10, threshold: float = 4.0,
                     max_users: int | None = 5000, seed: int = 0, ranker: Ranker | None = None) -> RankingRow:
    """Precision, recall, NDCG at k and coverage of ``ranker``'s lists (default: the model's own)."""
    return ranking_row(model, judged(model, test, k, threshold, max_users, seed, ranker), k, threshold)


def ndcg_by_user(model: Recommender, test: Ratings, k: int = 10, threshold: float = 4.0,
                 max_users: int | None = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(users, their NDCG at k) for the users ``evaluate_ranking`` judges, by the model's ranking model."""
    ranked = judged(model, test, k, threshold, max_users, seed)
    return ranked.users, per_user(ranked.top, ranked.relevant)[2]


def ladder_rankers(model: Recommender, free_bytes: int | None = None) -> dict[str, Ranker]:
    """The rankings a run is compared on: the reference kinds (most popular, EASE, the rating model's own lists)
    and its own ranking model.

    The references are fitted from what the model holds (its training interactions and rating model); one that
    would not fit in ``free_bytes`` (None: unknown) is left off the ladder rather than failing the run."""
    train = Ratings(np.repeat(np.arange(model.n_users), model.seen.counts()), model.seen.items.astype(np.int64),
                    model.seen.ratings, model.users, model.items, scale=model.scale)
    out = {}
    for kind in registry.references():
        if kind == model.kind:
            out[kind] = model.ranker
            continue
        found, params = registry.get(kind), registry.params_for(kind)
        try:
            found.check_fits(model.n_users, model.n_items, params, free_bytes)
        except ConfigError:
            continue
        out[kind] = found.fit(train, params, model.rating)
    out.setdefault(model.kind, model.ranker)
    return out


def ranking_ladder(model: Recommender, test: Ratings, k: int = 10, threshold: float = 4.0,
                   max_users: int | None = 5000, seed: int = 0, free_bytes: int | None = None) -> Ladder:
    """``evaluate_ranking`` for each of ``ladder_rankers``, on the same users."""
    rows, own = {}, None
    for kind, ranker in ladder_rankers(model, free_bytes).items():
        ranked = judged(model, test, k, threshold, max_users, seed, ranker)
        rows[kind] = ranking_row(model, ranked, k, threshold)
        if ranker is model.ranker:
            own = ranked
    return Ladder(rows, own.users, per_user(own.top, own.relevant)[2])
