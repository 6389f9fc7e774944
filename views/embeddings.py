"""Embeddings page: a PCA map of the learned movie (or user) vectors, how to read its axes, and exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.export import frame_to_csv, metadata_tsv, vectors_tsv
from cfcore.projection import axis_extremes
from cfcore.scorers import KIND_LABELS
from ui import charts, mapcharts, state
from ui.models import item_frame, item_projection, movie_label, require_model, user_projection
from ui.text import md

st.title("Embeddings")
state.show_flash()
model = require_model()
rec = model.recommender
st.caption(f"Active model: {md(model.label)}.")
if not rec.ranker.has_embeddings:
    st.caption(f"This map shows the rating model's taste vectors. The lists come from {KIND_LABELS[rec.kind]}, "
               "which has no embeddings to map: it scores a movie by the movies a person already rated.")



def _ratings(n: int) -> str:
    return f"{n:,} rating" if n == 1 else f"{n:,} ratings"


counts = rec.catalog["n_ratings"].to_numpy()
default_min = int(max(1, np.sort(counts)[::-1][min(len(counts) - 1, 999)]))  # about the 1,000 most-rated movies
a, b, c, d = st.columns(4)
show = a.radio("Show", ["movies", "users"], horizontal=True, key="emb_show")
st.caption("Each movie is a point; movies close together were rated alike by the same people." if show == "movies" else
           "Each user is a point; users close together rated the same movies alike.")
st.caption("The axes (PC1, PC2, ...) are the directions along which the learned vectors vary most (PCA); the "
           "percentage is the share of all variation that axis shows. A bias is how much higher or lower than "
           "expected a movie is rated, after allowing for how generous its raters are.")
dims = b.radio("Dimensions", [2, 3], horizontal=True, key="emb_dims", format_func=lambda n: f"{n}D")
min_ratings = c.number_input("Minimum ratings", 1, int(max(counts.max(), 1)), default_min, key="emb_min",
                             help="Rarely rated movies' vectors are mostly noise; the default keeps about the "
                                  "1,000 most-rated.")
if show == "movies":
    color = d.selectbox("Colour by", ["main genre", "year", "bias", "popularity"], key="emb_color",
                        help="popularity is log10 of the number of ratings; bias is how much better or worse "
                             "than average the movie is rated once raters' generosity is accounted for.")
else:
    color = d.selectbox("Colour by", ["bias", "n_ratings"], key="emb_color_users")

if show == "movies":
    proj = item_projection(rec, int(min_ratings), dims)
    frame = item_frame(rec, proj)
    query = st.text_input("Find a movie on the map (highlights it and its 10 nearest neighbours)", key="emb_search")
    highlight = None
    if query:
        hits = rec.search_titles(query, limit=20)
        hits = hits[hits.index.isin(frame.index)]
        if hits.empty:
            st.warning(f"No movie on the map contains {md(repr(query))} (lower the minimum ratings to show more).")
        else:
            target = st.selectbox("Movie", hits.index.tolist(), key="emb_target", format_func=lambda i: movie_label(rec, i))
            neighbours = rec.similar_items(rec.items.to_id([target])[0], 10,
                                           item_mask=np.isin(np.arange(rec.n_items), frame.index))
            rows = [target, *neighbours["item_idx"].tolist()]
            highlight = frame.loc[rows].assign(label=[f"▶ {frame.loc[target, 'title']}"] + [""] * len(neighbours),
                                               marker_color=[charts.ACCENT] + [charts.HIGHLIGHT] * len(neighbours))
    fig = mapcharts.embedding_map(frame, color, dims, proj.explained_variance_ratio, highlight,
                               title=f"{len(frame):,} movies with at least {_ratings(min_ratings)}")
    st.plotly_chart(fig, key="emb_map")
else:
    proj = user_projection(rec, int(min_ratings) if min_ratings <= np.diff(rec.seen_indptr).max() else 1, dims)
    users = rec.user_table().iloc[proj.rows].reset_index(drop=True)
    frame = pd.concat([users, proj.frame()], axis=1)
    fig = mapcharts.embedding_map(frame, color, dims, proj.explained_variance_ratio, hover="user",
                               title=f"{len(frame):,} users with at least {_ratings(min_ratings)}")
    st.plotly_chart(fig, key="emb_map_users")

st.plotly_chart(mapcharts.explained_variance(proj.explained_variance_ratio), key="emb_variance")

if show == "movies":
    st.subheader("Reading the map")
    for axis in [f"pc{i + 1}" for i in range(min(dims, 2))]:
        low, high = axis_extremes(frame, axis, 5)
        left, right = st.columns(2)
        left.markdown(f"**Low end of {axis.upper()}**")
        left.dataframe(low[["title", "year", "genres"]], hide_index=True,
                       column_config={"year": st.column_config.NumberColumn(format="%d")})
        right.markdown(f"**High end of {axis.upper()}**")
        right.dataframe(high[["title", "year", "genres"]], hide_index=True,
                        column_config={"year": st.column_config.NumberColumn(format="%d")})
    liked, disliked = rec.bias_extremes(10, min_ratings=max(20, int(min_ratings)))
    left, right = st.columns(2)
    left.markdown("**Most liked** (highest movie bias)")
    left.dataframe(liked[["title", "year", "bias", "n_ratings"]], hide_index=True,
                   column_config={"year": st.column_config.NumberColumn(format="%d"),
                                  "bias": st.column_config.NumberColumn(format="%+.2f")})
    right.markdown("**Least liked** (lowest movie bias)")
    right.dataframe(disliked[["title", "year", "bias", "n_ratings"]], hide_index=True,
                    column_config={"year": st.column_config.NumberColumn(format="%d"),
                                   "bias": st.column_config.NumberColumn(format="%+.2f")})

st.subheader("Download")
what = "movies" if show == "movies" else "users"
export = frame.drop(columns=[c for c in ("marker_color",) if c in frame.columns])
vectors = rec.item_factors_[proj.rows] if show == "movies" else rec.user_factors_[proj.rows]
meta_cols = ["item_id", "title", "year", "genres", "n_ratings"] if show == "movies" else ["user_id", "n_ratings"]
a, b, c = st.columns(3)
# each file is built when its button is clicked, not on every rerun of the page
a.download_button(f"Projection ({what}, CSV)", lambda: frame_to_csv(export), f"cfstudio-{what}-pca.csv", "text/csv",
                  key="emb_dl_csv", on_click="ignore")
b.download_button("Embeddings (vectors.tsv)", lambda: vectors_tsv(vectors),
                  f"cfstudio-{what}-vectors.tsv", "text/tab-separated-values", key="emb_dl_vectors", on_click="ignore")
c.download_button("Metadata (metadata.tsv)", lambda: metadata_tsv(export[meta_cols]),
                  f"cfstudio-{what}-metadata.tsv", "text/tab-separated-values", key="emb_dl_meta", on_click="ignore")
st.caption("Load vectors.tsv and metadata.tsv into TensorBoard's Embedding Projector (projector.tensorflow.org → "
           "Load) to explore the raw vectors with t-SNE or UMAP.")
