"""The Runs page's two-run diff: list overlap, bias agreement, and the movies and users that changed most."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from cfcore.errors import CFError
from cfcore.rundiff import RunDiff, diff_runs
from cfcore.runs import RunInfo, load_run
from ui import state
from ui.activate import activate_run
from ui.text import md

HELP_JACCARD = ("For each user both runs know, the share of the two top-10 lists they have in common (movies in both "
                "lists / movies in either), averaged: 1 means identical lists, 0 means nothing in common.")
HELP_BIAS = ("Spearman rank correlation of the two runs' movie biases: 1 means they agree on which movies are liked "
             "more than their ratings' average explains, 0 means no agreement.")


def settings_diff(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per setting whose value differs between ``runs`` (one column per run); the dataset and the
    split count as settings."""
    values = [{"dataset": r.record.dataset.name,
               **{f"split {k}": v for k, v in (r.record.split.to_dict() if r.record.split else {}).items()},
               **_flat(r.record.config.to_dict())} for r in runs]
    keys = list(dict.fromkeys(k for v in values for k in v))
    rows = {k: [str(v.get(k, "")) for v in values] for k in keys}
    differing = {k: row for k, row in rows.items() if len(set(row)) > 1}
    return pd.DataFrame(differing, index=[r.title for r in runs]).T.rename_axis("setting").reset_index()


def _flat(config: dict) -> dict:
    """A config's values with the ranking kind's own settings spelled "<kind> <setting>" beside the rest."""
    params = config.pop("ranking_params", None) or {}
    return config | {f"{config.get('ranking_model')} {name}": value for name, value in params.items()}


def settings_panel(runs: list[RunInfo]) -> None:
    """The settings that differ between the selected runs, side by side."""
    frame = settings_diff(runs)
    if frame.empty:
        st.caption("The selected runs used the same settings, data and split.")
    else:
        st.markdown("**Settings that differ**")
        st.dataframe(frame, hide_index=True)


@st.cache_data(max_entries=8, show_spinner="Comparing the two runs' lists…")
def _diff(runs_dir: str, run_a: str, run_b: str) -> RunDiff:
    # run ids are unique (time + random suffix), so a folder and two ids name one comparison for good
    return diff_runs(load_run(Path(runs_dir), run_a), load_run(Path(runs_dir), run_b))


def diff_panel(a: RunInfo, b: RunInfo) -> None:
    """Compare run ``a`` (the first selected) with ``b`` on their data's users and movies."""
    st.markdown(f"**{md(a.title)} (A) against {md(b.title)} (B)**")
    if a.record.dataset.content_hash != b.record.dataset.content_hash:
        st.info(f"These runs were trained on different data ({md(a.record.dataset.name)} and "
                f"{md(b.record.dataset.name)}), so their lists "
                "cannot be compared user by user. Select two runs on the same dataset.")
        return
    try:
        diff = _diff(str(state.runs_dir()), a.run_id, b.run_id)
    except CFError as exc:
        st.error(md(exc))
        return
    c = st.columns(3)
    c[0].metric("Top-10 lists in common", f"{diff.mean_jaccard:.0%}", help=HELP_JACCARD)
    c[1].metric("Movie-bias agreement", f"{diff.bias_correlation:.2f}", help=HELP_BIAS)
    c[2].metric("Users compared", f"{diff.users_compared:,}")
    left, right = st.columns(2)
    left.markdown("Movies whose **bias** moved most (B - A)")
    # the item_id stays in the data (a selected row opens that movie) but not on screen: at 1400 px the
    # half-width tables cut their last column to make room for it
    movies = left.dataframe(diff.bias_movers, hide_index=True, on_select="rerun", selection_mode="single-row",
                            key="diff_bias_movers", column_order=["title", "bias_a", "bias_b", "change"],
                            column_config={
                                "bias_a": st.column_config.NumberColumn("bias A", format="%+.3f"),
                                "bias_b": st.column_config.NumberColumn("bias B", format="%+.3f"),
                                "change": st.column_config.NumberColumn(format="%+.3f")})
    right.markdown(f"Movies whose **place in the lists** moved most (in how many of the {diff.users_compared:,} "
                   "users' top-10)")
    right.dataframe(diff.list_movers, hide_index=True, key="diff_list_movers",
                    column_order=["title", "lists_a", "lists_b", "change"],
                    column_config={"lists_a": "lists A", "lists_b": "lists B"})
    st.markdown("Users whose lists changed most (select one to open it)")
    users = st.dataframe(diff.users_changed, hide_index=True, on_select="rerun", selection_mode="single-row",
                         key="diff_users", column_config={
                             "jaccard": st.column_config.NumberColumn("in common", format="percent"),
                             "only_a": "only in A's list", "only_b": "only in B's list"})
    user_rows = users.selection.rows if users and users.selection else []
    movie_rows = movies.selection.rows if movies and movies.selection else []
    if user_rows:
        user_id = diff.users_changed["user_id"].iloc[user_rows[0]]
        if st.button(f"Open user {user_id} on Recommend with run A", key="diff_open_user"):
            _open(a, state.REC_USER, user_id)
    if movie_rows:
        item_id = diff.bias_movers["item_id"].iloc[movie_rows[0]]
        title = diff.bias_movers["title"].iloc[movie_rows[0]]
        if st.button(f"Open {title} on Recommend with run A (Similar movies tab)", key="diff_open_movie"):
            _open(a, state.SIM_MOVIE, item_id)


def _open(run: RunInfo, key: str, raw_id) -> None:
    """Make ``run`` the active model, ask Recommend for the chosen user or movie, and go there."""
    if activate_run(run) is not None:
        state.ask(key, raw_id)
        st.switch_page("views/recommend.py")
