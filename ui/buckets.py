"""The "where the model errs" panel: held-out error by user activity and movie popularity (Train result, Runs)."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from cfcore.figures import charts
from cfcore.records import BucketRow

HELP = ("Held-out ratings grouped by how many ratings their user (left) or their movie (right) had in training. "
        "A model usually knows heavy users and popular movies well and light users and rare movies badly; one "
        "validation RMSE hides that. NDCG@k (on the bars on the left) scores the lists of the users in each group "
        "who have a relevant held-out rating.")


def summary(rows: tuple[BucketRow, ...]) -> str | None:
    """One sentence comparing the lightest and the heaviest user group, when both exist."""
    users = [r for r in rows if r.side == "users" and r.ratings >= 20]  # too few ratings: noise
    if len(users) < 2:
        return None
    light, heavy = users[0], users[-1]
    return (f"Users with {light.bucket} training ratings are predicted with RMSE {light.rmse:.3f}, users with "
            f"{heavy.bucket} with {heavy.rmse:.3f} ({light.ratings:,} and {heavy.ratings:,} held-out ratings).")


def bucket_panel(rows: tuple[BucketRow, ...], k: int, key: str) -> None:
    """Chart, one sentence and the table of ``cfcore.buckets.error_by_bucket`` rows (a run's record)."""
    st.markdown("**Where the model errs**", help=HELP)
    if not rows:
        st.caption("Not recorded for this run: runs trained before CF Studio kept error by group do not have it.")
        return
    st.plotly_chart(charts.error_buckets(rows, k), key=key)
    sentence = summary(rows)
    if sentence:
        st.caption(sentence)
    with st.expander("As a table"):
        frame = pd.DataFrame([asdict(r) for r in rows]).rename(columns={"side": "grouped by", "bucket": "training ratings",
                                                   "ratings": "held-out ratings", "rmse": "RMSE", "mae": "MAE",
                                                   "users_ranked": "users ranked", "ndcg": f"NDCG@{k}"})
        st.dataframe(frame, hide_index=True, column_config={
            "RMSE": st.column_config.NumberColumn(format="%.4f"), "MAE": st.column_config.NumberColumn(format="%.4f"),
            f"NDCG@{k}": st.column_config.NumberColumn(format="%.3f")})
