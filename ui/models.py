"""Glue between pages and the active model: pickers and cached projections (no torch here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.projection import Projection, main_genre, project
from cfcore.queries import Recommender
from ui import state
from ui.jobs import TsneJob


def require_model() -> state.ActiveModel | None:
    """The active model; None, after a message and a link to the Train page, when there is none."""
    model = state.active_model()
    if model is None:
        st.info("There is no active model yet. Train one (a minute on the built-in data), or make a saved run "
                "active on the Runs page.")
        st.page_link("views/train.py", label="Train a model first", icon=":material/arrow_forward:")
    return model


def movie_labels(rec: Recommender) -> np.ndarray:
    """"Title (year)" for every item index, built once per model (pickers format thousands of options)."""
    return state.memo(rec, ("labels",), rec.catalog.labels)


def movie_label(rec: Recommender, item_idx: int) -> str:
    return movie_labels(rec)[item_idx]


def popular_items(rec: Recommender, limit: int = 20_000, min_ratings: int = 1) -> np.ndarray:
    """Item indices to offer in pickers, most rated first (pickers stay fast on large catalogues)."""
    return rec.catalog.most_rated(limit, min_ratings)


def item_projection(rec: Recommender, min_ratings: int, dims: int) -> Projection:
    rows = np.flatnonzero(rec.catalog.counts() >= min_ratings)
    return state.memo(rec, ("items", min_ratings, dims), lambda: project(rec.shown_item_vectors, dims, rows))


def user_projection(rec: Recommender, min_ratings: int, dims: int) -> Projection:
    rows = np.flatnonzero(rec.seen.counts() >= min_ratings)
    return state.memo(rec, ("users", min_ratings, dims), lambda: project(rec.shown_user_vectors, dims, rows))


def item_frame(rec: Recommender, proj: Projection) -> pd.DataFrame:
    """Projected items with what the map's hover and colours need."""
    labels = rec.catalog.frame.assign(bias=rec.item_bias_.astype(np.float64),
                                      **{"main genre": main_genre(rec.catalog.frame["genres"])})
    frame = proj.frame(labels)
    frame.index = proj.rows  # item_idx
    return frame


def tsne_job(rec: Recommender, what: str, rows: np.ndarray, vectors: np.ndarray) -> TsneJob:
    """The background t-SNE of ``vectors[rows]`` for this model, started on first ask and kept per model
    (a rerun or a return to the page finds it); asking for other rows stops the one no longer shown."""
    key = ("tsne", what, rows.tobytes())
    current = st.session_state.get(state.TSNE_JOB)
    job = state.memo(rec, key, lambda: TsneJob(vectors, rows).start()).resume()
    if current is not None and current is not job and current.running:
        current.stop()  # the map moved on (another filter or model): its t-SNE is no longer wanted
    st.session_state[state.TSNE_JOB] = job
    return job


def selected_items(event, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of ``frame`` (indexed by item_idx) picked by a box or lasso on the map; None when nothing was.

    Points carry their item_idx as the last column of their customdata (see ``figures.maps.item_customdata``);
    the highlighted markers repeat movies already in the cloud, so duplicates are dropped.
    """
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        (event.selection.points if event is not None and getattr(event, "selection", None) else [])
    picked = []
    for point in points:
        data = point.get("customdata") if isinstance(point, dict) else None
        if data:
            try:
                picked.append(int(float(data[-1])))
            except (TypeError, ValueError):
                continue
    picked = [i for i in dict.fromkeys(picked) if i in frame.index]
    return frame.loc[picked] if picked else None
