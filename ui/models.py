"""Glue between pages and the active model: pickers and cached projections (no torch here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.projection import Projection, main_genre, project
from cfcore.recommender import Recommender
from ui import state


def require_model() -> state.ActiveModel:
    """The active model, or a message with a link to the Train page (and the page stops)."""
    model = state.active_model()
    if model is None:
        st.info("There is no active model yet. Train one (a minute on the built-in data), or make a saved run "
                "active on the Runs page.")
        st.page_link("views/train.py", label="Train a model first", icon=":material/arrow_forward:")
        st.stop()
    return model


def movie_labels(rec: Recommender) -> np.ndarray:
    """"Title (year)" for every item index, built once per model (pickers format thousands of options)."""
    def build():
        year = rec.catalog["year"].map(lambda y: "" if pd.isna(y) else f" ({y:.0f})")
        return (rec.catalog["title"].astype(str) + year).to_numpy(dtype=object)
    return state.memo(rec, ("labels",), build)


def movie_label(rec: Recommender, item_idx: int) -> str:
    return movie_labels(rec)[item_idx]


def popular_items(rec: Recommender, limit: int = 20_000, min_ratings: int = 1) -> np.ndarray:
    """Item indices to offer in pickers, most rated first (pickers stay fast on large catalogues)."""
    counts = rec.catalog["n_ratings"].to_numpy()
    order = np.argsort(-counts, kind="stable")
    return order[counts[order] >= min_ratings][:limit]


def item_projection(rec: Recommender, min_ratings: int, dims: int) -> Projection:
    rows = np.flatnonzero(rec.catalog["n_ratings"].to_numpy() >= min_ratings)
    return state.memo(rec, ("items", min_ratings, dims), lambda: project(rec.item_factors_, dims, rows))


def user_projection(rec: Recommender, min_ratings: int, dims: int) -> Projection:
    rows = np.flatnonzero(np.diff(rec.seen_indptr) >= min_ratings)
    return state.memo(rec, ("users", min_ratings, dims), lambda: project(rec.user_factors_, dims, rows))


def item_frame(rec: Recommender, proj: Projection) -> pd.DataFrame:
    """Projected items with what the map's hover and colours need."""
    labels = rec.catalog.assign(bias=rec.item_bias_.astype(np.float64),
                                **{"main genre": main_genre(rec.catalog["genres"]),
                                   "popularity": np.log10(rec.catalog["n_ratings"].clip(lower=1))})
    frame = proj.frame(labels)
    frame.index = proj.rows  # item_idx
    return frame
