"""How good a model's lists are: its ranking metrics beside the popularity ranking on the same split."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cfcore.figures import charts
from cfcore.rankers import registry
from cfcore.records import RankingRow

METRIC_HELP = {
    "precision": "Precision@k: the share of the k recommended movies that the user rated highly in the held-out "
                 "ratings.",
    "recall": "Recall@k: the share of the user's highly rated held-out movies that made the top k.",
    "ndcg": "NDCG@k: like precision, but a hit near the top of the list counts more than one near the bottom "
            "(1.0 = every hit in the best possible order).",
    "coverage": "Catalogue coverage: the share of all movies that appear in at least one user's list.",
}


def ladder_frame(ladder: dict[str, RankingRow], active: str, k: int = 10) -> pd.DataFrame:
    """One row per ranking, best NDCG first; the active model's row marked."""
    rows = [{"ranking": registry.label(kind) + (" ★" if kind == active else ""),
             f"P@{k}": m.precision, f"R@{k}": m.recall, f"NDCG@{k}": m.ndcg, "coverage": m.coverage}
            for kind, m in ladder.items()]
    return pd.DataFrame(rows).sort_values(f"NDCG@{k}", ascending=False, na_position="last")


def ladder_panel(ladder: dict[str, RankingRow], active: str, key: str) -> None:
    """The ladder (kind -> row) as a table and a chart, with what the numbers mean."""
    if not ladder:
        return
    first = next(iter(ladder.values()))
    k, threshold, users = first.k, first.threshold, first.users
    left, right = st.columns([1, 1])
    with left:
        st.dataframe(ladder_frame(ladder, active, k), hide_index=True, key=f"{key}_table",
                     column_config={f"{name}@{k}": st.column_config.NumberColumn(f"{name}@{k}", format="%.3f",
                                                                                  help=METRIC_HELP[metric])
                                    for name, metric in (("P", "precision"), ("R", "recall"), ("NDCG", "ndcg"))}
                     | {"coverage": st.column_config.NumberColumn("coverage", format="percent",
                                                                  help=METRIC_HELP["coverage"])})
        st.caption(f"★ this model's lists. Top-{k} lists for {users:,} validation users with a held-out movie rated "
                   f"{threshold:g} or more; "
                   "every movie they did not rate in training is a candidate. \"Most popular\" gives everyone the "
                   "most-rated movies: a model whose lists do not beat it is not worth showing.")
    right.plotly_chart(charts.ranking_ladder(ladder, k), key=f"{key}_chart")


def lists_verdict(record) -> str | None:
    """One sentence: how this run's lists compare with the best ready-made list (EASE) and with most popular's."""
    own, floor = record.ranking, record.floor
    if own is None or floor is None or own is floor or not own.users or not floor.ndcg:
        return None
    others = {kind: row for kind, row in record.ladder.items() if row is not own and row is not floor and row.ndcg}
    parts = []
    if others:
        kind, best = max(others.items(), key=lambda item: item[1].ndcg)  # EASE, on MovieLens-like data
        parts.append(f"{own.ndcg / best.ndcg:.0%} of {registry.label(kind)}'s {best.ndcg:.3f} "
                     f"({own.coverage / best.coverage:.1f}x its catalogue coverage)" if best.coverage else
                     f"{own.ndcg / best.ndcg:.0%} of {registry.label(kind)}'s {best.ndcg:.3f}")
    parts.append(f"{own.ndcg / floor.ndcg:.1f}x most popular's {floor.ndcg:.3f}")
    return f"Its lists score NDCG@{own.k} **{own.ndcg:.3f}** on this split: " + " and ".join(parts) + "."
