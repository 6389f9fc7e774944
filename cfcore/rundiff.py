"""Two runs on the same data compared by what a person sees: how much their top-k lists overlap, whether they
agree on which movies people like, and which movies and users changed most.

Users and movies are matched by raw id, so the runs need not share index order (a different split of
the same file still compares on the users and movies both know).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from cfcore.errors import DataError
from cfcore.queries import Recommender


@dataclass(frozen=True)
class RunDiff:
    k: int
    users_compared: int
    mean_jaccard: float  # mean over users of |A & B| / |A | B| of their top-k lists (1: identical lists)
    bias_correlation: float  # Spearman rank correlation of the movie biases of the movies both know
    bias_movers: pd.DataFrame  # item_id, title, bias_a, bias_b, change: largest |change| first
    list_movers: pd.DataFrame  # item_id, title, lists_a, lists_b, change: in how many compared users' lists
    users_changed: pd.DataFrame  # user_id, jaccard, only_a, only_b (titles): lowest overlap first


def diff_runs(a: Recommender, b: Recommender, k: int = 10, max_users: int | None = 2000, seed: int = 0,
              n: int = 10) -> RunDiff:
    """Compare ``a`` and ``b`` on up to ``max_users`` users both know (a seeded sample); ``n`` rows per table."""
    common_users = np.intersect1d(a.users.index.to_numpy(), b.users.index.to_numpy())
    common_items = np.intersect1d(a.items.index.to_numpy(), b.items.index.to_numpy())
    if len(common_users) == 0 or len(common_items) < 2:
        raise DataError("these runs share no users (or fewer than 2 movies): compare runs trained on the same data")
    if max_users is not None and len(common_users) > max_users:
        common_users = np.sort(np.random.default_rng(seed).choice(common_users, max_users, replace=False))
    # the lists a person is shown (held-out ratings excluded too), as raw item ids
    lists_a = a.items.index.to_numpy()[a.top_k_idx(a.users.to_idx(common_users), k, exclude_heldout=True)]  # (U, k)
    lists_b = b.items.index.to_numpy()[b.top_k_idx(b.users.to_idx(common_users), k, exclude_heldout=True)]  # (U, k)
    jaccard = np.array([len(set(x) & set(y)) / max(1, len(set(x) | set(y))) for x, y in zip(lists_a, lists_b)])

    bias_a = a.item_bias_[a.items.to_idx(common_items)].astype(np.float64)  # (I,)
    bias_b = b.item_bias_[b.items.to_idx(common_items)].astype(np.float64)  # (I,)
    correlation = float(spearmanr(bias_a, bias_b).statistic) if np.ptp(bias_a) and np.ptp(bias_b) else float("nan")
    titles = a.catalog.frame.set_index("item_id")["title"]
    bias_movers = pd.DataFrame({"item_id": common_items, "title": titles.reindex(common_items).to_numpy(),
                                "bias_a": bias_a, "bias_b": bias_b, "change": bias_b - bias_a})
    bias_movers = bias_movers.reindex(bias_movers["change"].abs().sort_values(ascending=False, kind="stable").index)

    shown_a = pd.Series(lists_a.ravel()).value_counts()
    shown_b = pd.Series(lists_b.ravel()).value_counts()
    shown = shown_a.index.union(shown_b.index)
    list_movers = pd.DataFrame({"item_id": shown, "title": titles.reindex(shown).to_numpy(),
                                "lists_a": shown_a.reindex(shown, fill_value=0).to_numpy(),
                                "lists_b": shown_b.reindex(shown, fill_value=0).to_numpy()})
    list_movers["change"] = list_movers["lists_b"] - list_movers["lists_a"]
    list_movers = list_movers.reindex(list_movers["change"].abs().sort_values(ascending=False, kind="stable").index)

    order = np.argsort(jaccard, kind="stable")[:n]
    users_changed = pd.DataFrame({
        "user_id": common_users[order], "jaccard": jaccard[order],
        "only_a": [", ".join(titles.reindex([i for i in lists_a[r] if i not in set(lists_b[r])]).astype(str))
                   for r in order],
        "only_b": [", ".join(titles.reindex([i for i in lists_b[r] if i not in set(lists_a[r])]).astype(str))
                   for r in order]})
    return RunDiff(k, len(common_users), float(jaccard.mean()), correlation,
                   bias_movers.head(n).reset_index(drop=True), list_movers.head(n).reset_index(drop=True),
                   users_changed)
