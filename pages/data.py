"""Data page: the active dataset at a glance."""

from __future__ import annotations

import streamlit as st

from ui.data import builtin_dataset

st.title("CF Studio")
st.caption("Explicit-rating collaborative filtering: load ratings, train a matrix-factorisation model, explore it.")

dataset = builtin_dataset()
ratings = dataset.ratings
st.subheader(f"Active dataset: {dataset.name}")
cols = st.columns(4)
cols[0].metric("Ratings", f"{len(ratings):,}")
cols[1].metric("Users", f"{ratings.n_users:,}")
cols[2].metric("Movies", f"{ratings.n_items:,}")
cols[3].metric("Density", f"{ratings.density:.2%}")
st.write(f"Rating scale: {ratings.scale}")
if dataset.credit:
    st.caption(dataset.credit)
st.markdown("**The first movies in the catalogue**")
st.dataframe(dataset.catalog.head(20), hide_index=True, width="stretch")
st.info("Training, runs and exploration pages arrive with the dashboard. Meanwhile the engine is usable "
        "from the command line: `python -m cfcore train --help`.")
