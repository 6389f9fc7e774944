"""Embeddings page: a map (PCA or t-SNE) of the learned movie (or user) vectors, its neighbours and
selections, the map played over training, how to read its axes, and exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.export import frame_to_csv, metadata_tsv, vectors_tsv
from cfcore.figures import maps as mapcharts
from cfcore.figures.style import ACCENT, HIGHLIGHT
from cfcore.projection import axis_extremes, axis_title, has_genre, most_distinct_genre
from cfcore.rankers import registry
from ui import state
from ui.models import item_frame, item_projection, movie_label, require_model, selected_items, tsne_job, user_projection
from ui.text import md

TSNE_MAX = 5000  # t-SNE is offered up to this many points: beyond, it takes minutes on a laptop

st.title("Embeddings")
state.show_flash()
model = require_model()
rec = model.recommender
st.caption(f"Active model: {md(model.label)}.")
genre_names = state.memo(rec, ("genres",), rec.catalog.genres)  # every genre in the catalogue, once per model
if rec.ranker.item_vectors() is None:
    st.caption(f"This map shows the rating model's taste vectors. The lists come from {registry.label(rec.kind)}, "
               "which has no embeddings to map: it scores a movie by the movies a person already rated.")


def _ratings(n: int) -> str:
    return f"{n:,} rating" if n == 1 else f"{n:,} ratings"


def genre_picker(coords: np.ndarray, genres: pd.Series, key: str, where=st) -> str | None:
    """A select box of genres, defaulting to the one that stands most apart on this map (None, and a
    caption, when the catalogue has no genres)."""
    names = genre_names
    if not names:
        where.caption("This catalogue has no genres (upload a movies file with a genres column on the Data page "
                      "to colour by genre).")
        return None
    default = most_distinct_genre(coords, genres) or names[0]
    return where.selectbox("Genre in colour", names, index=names.index(default) if default in names else 0, key=key,
                           help="One genre in colour, every other movie grey. The default is the genre whose movies "
                                "sit furthest from the rest on this map.")


view = st.segmented_control("View", ["Map", "Map over training"], default="Map", key="emb_view",
                            label_visibility="collapsed") or "Map"

if view == "Map over training":
    frames = rec.map_frames
    if frames is None:
        st.info("This model has no record of its map during training: it was trained before CF Studio kept one, "
                "or loaded from a checkpoint without it. Train a model to watch its map form.")
        st.stop()
    movies = rec.catalog.rows(frames.item_idx)
    a, b, c = st.columns([2, 2, 1])
    aligned = b.radio("Positions", ["aligned with the final map", "as trained"], horizontal=True, key="emb_anim_align",
                      help="A factorisation can be rotated without changing any prediction, so the raw vectors may "
                           "spin between epochs. 'Aligned' rotates each epoch onto the final vectors (orthogonal "
                           "Procrustes) before projecting on the final map's axes.") == "aligned with the final map"
    coords = frames.aligned if aligned else frames.plain  # (E, n, 2)
    genre = genre_picker(coords[-1], movies["genres"], "emb_anim_genre", a)
    member = has_genre(movies["genres"], genre) if genre else np.zeros(len(movies), bool)
    zoom = c.checkbox("Zoom each epoch", value=True, key="emb_anim_zoom",
                      help="The vectors start tiny (random, std 0.01) and grow; zooming scales every epoch to the "
                           "final spread so the early shapes are readable.")
    st.plotly_chart(mapcharts.training_animation(coords, frames.epochs.tolist(), movies, member, genre, zoom),
                    key="emb_animation")
    st.caption(f"The {len(movies):,} most-rated movies, snapshotted before training ('start'), about each quarter "
               f"of the first epoch (where most of the map forms) and after each epoch up to the one kept (epoch "
               f"{frames.epochs[-1]:g}), on the final map's two PCA axes. Press Play, or drag the slider, to watch "
               "movies of a genre gather.")
    st.stop()

counts = rec.catalog.counts()
default_min = int(max(1, np.sort(counts)[::-1][min(len(counts) - 1, 999)]))  # about the 1,000 most-rated movies
a, b, c, d, e = st.columns(5)
show = a.radio("Show", ["movies", "users"], horizontal=True, key="emb_show")
method = b.radio("Layout", ["PCA", "t-SNE"], horizontal=True, key="emb_method",
                 help="PCA: straight axes you can name (the directions along which the vectors vary most). "
                      "t-SNE: keeps each point's nearest neighbours close; clusters read better, but distances "
                      "between clusters and the axes mean nothing.")
dims = c.radio("Dimensions", [2, 3], horizontal=True, key="emb_dims", format_func=lambda n: f"{n}D",
               disabled=method == "t-SNE")
if method == "t-SNE":
    dims = 2
min_ratings = d.number_input("Minimum ratings", 1, int(max(counts.max(), 1)), default_min, key="emb_min",
                             help="Rarely rated movies' vectors are mostly noise; the default keeps about the "
                                  "1,000 most-rated. Neighbours and selections only use the movies on the map.")
if show == "movies":
    # a plain ratings upload has no genres or years: nothing to colour by
    has_years = rec.catalog.frame["year"].notna().any()
    color = e.selectbox("Colour by", [c for c in ("genre", "n_ratings", "year", "bias")
                                      if (c != "genre" or genre_names) and (c != "year" or has_years)],
                        key="emb_color", format_func=lambda c: "popularity" if c == "n_ratings" else c,
                        help="genre: one genre in colour, the rest grey. popularity: the number of ratings, on a "
                             "log scale. bias: how much better or worse than average the movie is rated once "
                             "raters' generosity is accounted for.")
else:
    color = e.selectbox("Colour by", ["bias", "n_ratings"], key="emb_color_users")
if show == "movies":
    st.caption("Each movie is a point; movies close together were rated alike by the same people.")
else:
    st.caption("Each user is a point; users close together rated the same movies alike.")

if show == "movies":
    proj = item_projection(rec, int(min_ratings), dims)
    frame = item_frame(rec, proj)
else:
    proj = user_projection(rec, int(min_ratings) if min_ratings <= rec.seen.counts().max() else 1, dims)
    users = rec.user_table().iloc[proj.rows].reset_index(drop=True)
    frame = pd.concat([users, proj.frame()], axis=1)

layout_name = "PCA"
if method == "t-SNE":
    if len(frame) > TSNE_MAX:
        st.warning(f"t-SNE is offered for up to {TSNE_MAX:,} points and this map has {len(frame):,}; raise the "
                   "minimum ratings. Showing PCA.")
    else:
        vectors = rec.item_factors_ if show == "movies" else rec.user_factors_
        job = tsne_job(rec, show, proj.rows, vectors)
        if job.error:
            st.error(md(job.error))
        elif job.coords is None:
            def tsne_progress() -> None:
                job.heartbeat()
                if job.coords is not None or job.error or not job.running:
                    st.rerun()
                st.progress(job.done, text=f"t-SNE of {len(frame):,} {show}: {job.done:.0%} after "
                                           f"{job.elapsed():.0f} s (runs in the background; PCA meanwhile)")
            st.fragment(run_every=1.0)(tsne_progress)()
        else:
            frame[["pc1", "pc2"]] = job.coords  # t-SNE positions in the map's two columns
            layout_name = "t-SNE"

if show == "movies":
    search_col, genre_col = st.columns([2, 1])
    query = search_col.text_input("Find a movie on the map (highlights it and its 10 nearest neighbours)",
                                  key="emb_search")
    highlight = neighbours = None
    if query:
        hits = rec.catalog.search(query, limit=20)
        hits = hits[hits.index.isin(frame.index)]
        if hits.empty:
            st.warning(f"No movie on the map contains {md(repr(query))} (lower the minimum ratings to show more).")
        else:
            target = search_col.selectbox("Movie", hits.index.tolist(), key="emb_target",
                                          format_func=lambda i: movie_label(rec, i))
            neighbours = rec.similar_items(rec.items.to_id([target])[0], 10,
                                           item_mask=np.isin(np.arange(rec.n_items), frame.index))
            rows = [target, *neighbours["item_idx"].tolist()]
            short = frame.loc[rows, "title"].astype(str).map(lambda t: t if len(t) <= 24 else t[:23] + "…")
            highlight = frame.loc[rows].assign(
                label=[f"▶ {short.iloc[0]}"] + [str(n) for n in range(1, len(neighbours) + 1)],
                label_inside=[False] + [True] * len(neighbours),
                marker_color=[ACCENT] + [HIGHLIGHT] * len(neighbours))
    genre = genre_picker(frame[["pc1", "pc2"]].to_numpy(), frame["genres"], "emb_genre", genre_col) \
        if color == "genre" else None
    axis_titles = None
    if layout_name == "PCA":
        axis_titles = [axis_title(frame, f"pc{i + 1}", f"PC{i + 1} ({proj.explained_variance_ratio[i]:.0%})", width=16)
                       for i in range(dims)]
    fig = mapcharts.embedding_map(frame, color, dims, proj.explained_variance_ratio, highlight, genre=genre,
                                  axis_titles=axis_titles, method=layout_name,
                                  title=f"{len(frame):,} movies with at least {_ratings(min_ratings)}")
    if dims == 2:
        event = st.plotly_chart(fig, key="emb_map", on_select="rerun", selection_mode=("box", "lasso"))
    else:
        st.plotly_chart(fig, key="emb_map")
        event = None
    if neighbours is not None:
        st.markdown(f"**Nearest neighbours of {md(movie_label(rec, target))}** (cosine similarity of the learned "
                    "vectors: 1 = the same direction of taste; numbered as on the map)")
        st.dataframe(neighbours.assign(**{"#": range(1, len(neighbours) + 1)})[
                         ["#", "title", "year", "similarity", "n_ratings"]], hide_index=True,
                     column_config={"year": st.column_config.NumberColumn(format="%d"),
                                    "similarity": st.column_config.NumberColumn("cosine", format="%.3f"),
                                    "n_ratings": "ratings"})
    chosen = selected_items(event, frame)
    if chosen is not None and len(chosen):
        st.markdown(f"**{len(chosen):,} selected movies**, most rated first (drag a box or lasso on the map; "
                    "double-click it to clear)")
        st.dataframe(chosen.sort_values("n_ratings", ascending=False, kind="stable")[
                         ["title", "year", "genres", "n_ratings", "bias"]], hide_index=True,
                     column_config={"year": st.column_config.NumberColumn(format="%d"), "n_ratings": "ratings",
                                    "bias": st.column_config.NumberColumn(format="%+.2f")})
    elif dims == 2:
        st.caption("Drag a box or a lasso on the map to list the movies inside it.")
else:
    fig = mapcharts.embedding_map(frame, color, dims, proj.explained_variance_ratio, hover="user", method=layout_name,
                                  title=f"{len(frame):,} users with at least {_ratings(min_ratings)}")
    st.plotly_chart(fig, key="emb_map_users")

if layout_name == "PCA":
    st.plotly_chart(mapcharts.explained_variance(proj.explained_variance_ratio), key="emb_variance")

if show == "movies":
    st.subheader("Reading the map")
    if layout_name == "PCA":
        for axis in [f"pc{i + 1}" for i in range(min(dims, 2))]:
            low, high = axis_extremes(frame, axis, 5)
            left, right = st.columns(2)
            left.markdown(f"**Low end of {axis.upper()}**")
            left.dataframe(low[["title", "year", "genres"]], hide_index=True,
                           column_config={"year": st.column_config.NumberColumn(format="%d")})
            right.markdown(f"**High end of {axis.upper()}**")
            right.dataframe(high[["title", "year", "genres"]], hide_index=True,
                            column_config={"year": st.column_config.NumberColumn(format="%d")})
    else:
        st.caption("t-SNE's axes have no meaning of their own: read the clusters, not the directions.")
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
if layout_name == "t-SNE":
    export = export.rename(columns={"pc1": "tsne1", "pc2": "tsne2"})
vectors = rec.item_factors_[proj.rows] if show == "movies" else rec.user_factors_[proj.rows]
meta_cols = ["item_id", "title", "year", "genres", "n_ratings"] if show == "movies" else ["user_id", "n_ratings"]
a, b, c = st.columns(3)
# each file is built when its button is clicked, not on every rerun of the page
a.download_button(f"Map ({what}, {layout_name}, CSV)", lambda: frame_to_csv(export),
                  f"cfstudio-{what}-{layout_name.lower().replace('-', '')}.csv", "text/csv",
                  key="emb_dl_csv", on_click="ignore")
b.download_button("Embeddings (vectors.tsv)", lambda: vectors_tsv(vectors),
                  f"cfstudio-{what}-vectors.tsv", "text/tab-separated-values", key="emb_dl_vectors", on_click="ignore")
c.download_button("Metadata (metadata.tsv)", lambda: metadata_tsv(export[meta_cols]),
                  f"cfstudio-{what}-metadata.tsv", "text/tab-separated-values", key="emb_dl_meta", on_click="ignore")
st.caption("Load vectors.tsv and metadata.tsv into TensorBoard's Embedding Projector (projector.tensorflow.org → "
           "Load) to explore the raw vectors with UMAP or a custom projection.")
