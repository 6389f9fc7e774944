"""Embeddings page: a map (PCA or t-SNE) of the learned movie (or user) vectors, its neighbours and
selections, the map played over training, how to read its axes, and exports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.export import frame_to_csv, metadata_tsv, selection_csv, vectors_tsv
from cfcore.figures import maps as mapcharts
from cfcore.figures.style import ACCENT, HIGHLIGHT
from cfcore.projection import Projection, axis_extremes, axis_title, has_genre, most_distinct_genre
from cfcore.queries import Recommender
from cfcore.rankers import registry
from ui import state
from ui.models import item_frame, item_projection, movie_label, require_model, selected_items, tsne_job, user_projection
from ui.text import md

TSNE_MAX = 5000  # t-SNE is offered up to this many points: beyond, it takes minutes on a laptop
YEAR_FORMAT = st.column_config.NumberColumn(format="%d")


@dataclass(frozen=True)
class MapChoice:
    """What the map's controls ask for."""

    show: Literal["movies", "users"]
    method: Literal["PCA", "t-SNE"]
    dims: int  # 2 or 3; always 2 for t-SNE
    min_ratings: int  # rows with fewer ratings are left off the map
    color: str  # what colours the points: genre, n_ratings, year or bias


@dataclass(frozen=True)
class MapPoints:
    """The points on the map: their projection, a frame with one row each, and the layout they are drawn in."""

    proj: Projection
    frame: pd.DataFrame  # indexed by item_idx for movies; pc1, pc2 hold t-SNE positions when layout is t-SNE
    layout: Literal["PCA", "t-SNE"]  # PCA until a requested t-SNE has finished


@dataclass(frozen=True)
class Neighbours:
    """A movie found on the map, its nearest neighbours there, and the markers that highlight them."""

    target: int  # item_idx of the movie searched for
    table: pd.DataFrame  # similar_items' rows, nearest first
    markers: pd.DataFrame  # map rows of the movie and its neighbours, with label, label_inside and marker_color


def _ratings(n: int) -> str:
    """1 -> "1 rating", 20 -> "20 ratings"."""
    return f"{n:,} rating" if n == 1 else f"{n:,} ratings"


def genre_names(rec: Recommender) -> list[str]:
    """Every genre in the catalogue, once per model."""
    return state.memo(rec, ("genres",), rec.catalog.genres)


def model_caption(model: state.ActiveModel) -> None:
    """Which model is mapped, and that the lists' ranking model has no map of its own when it has none."""
    rec = model.recommender
    st.caption(f"Active model: {md(model.label)}.")
    if not rec.vectors_rank:
        st.caption(f"This map shows the rating model's taste vectors. The lists come from {registry.label(rec.kind)}, "
                   "which has no embeddings to map: it scores a movie by the movies a person already rated.")
    elif rec.ranker.item_vectors() is not rec.rating.item_factors:
        st.caption(f"This map shows the vectors that order the lists ({registry.label(rec.kind)}, trained on which "
                   "movies people chose); the stars on the Recommend page come from the rating model's own vectors.")


def genre_picker(rec: Recommender, coords: np.ndarray, genres: pd.Series, key: str, where=st) -> str | None:
    """A genre picker defaulting to the genre standing most apart on this map; None (and a caption) without genres."""
    names = genre_names(rec)
    if not names:
        where.caption("This catalogue has no genres (upload a movies file with a genres column on the Data page "
                      "to colour by genre).")
        return None
    default = most_distinct_genre(coords, genres) or names[0]
    return where.selectbox("Genre in colour", names, index=names.index(default) if default in names else 0, key=key,
                           help="One genre in colour, every other movie grey. The default is the genre whose movies "
                                "sit furthest from the rest on this map.")


def view_ui() -> str:
    """The map or the map over training."""
    return st.segmented_control("View", ["Map", "Map over training"], default="Map", key="emb_view",
                                label_visibility="collapsed") or "Map"


def training_view(rec: Recommender) -> None:
    """The most-rated movies' map played epoch by epoch (a message when the model kept no record of it)."""
    frames = rec.map_frames
    if frames is None:
        st.info("This model has no record of its map during training: it was trained before CF Studio kept one, "
                "or loaded from a checkpoint without it. Train a model to watch its map form.")
        return
    movies = rec.catalog.rows(frames.item_idx)
    a, b, c = st.columns([2, 2, 1])
    aligned = b.radio("Positions", ["aligned with the final map", "as trained"], horizontal=True, key="emb_anim_align",
                      help="A factorisation can be rotated without changing any prediction, so the raw vectors may "
                           "spin between epochs. 'Aligned' rotates each epoch onto the final vectors (orthogonal "
                           "Procrustes) before projecting on the final map's axes.") == "aligned with the final map"
    coords = frames.aligned if aligned else frames.plain  # (E, n, 2)
    genre = genre_picker(rec, coords[-1], movies["genres"], "emb_anim_genre", a)
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


def map_controls_ui(rec: Recommender) -> MapChoice:
    """What to map, how, and coloured by what (then a line saying what a point is) -> MapChoice."""
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
                                          if (c != "genre" or genre_names(rec)) and (c != "year" or has_years)],
                            key="emb_color", format_func=lambda c: "popularity" if c == "n_ratings" else c,
                            help="genre: one genre in colour, the rest grey. popularity: the number of ratings, on a "
                                 "log scale. bias: how much better or worse than average the movie is rated once "
                                 "raters' generosity is accounted for.")
        st.caption("Each movie is a point; movies close together were rated alike by the same people.")
    else:
        color = e.selectbox("Colour by", ["bias", "n_ratings"], key="emb_color_users")
        st.caption("Each user is a point; users close together rated the same movies alike.")
    return MapChoice(show, method, dims, min_ratings, color)


def tsne_positions(rec: Recommender, show: str, rows: np.ndarray) -> np.ndarray | None:
    """The t-SNE of ``rows`` once its background job has it (n, 2); None, with a warning or its progress, before."""
    if len(rows) > TSNE_MAX:
        st.warning(f"t-SNE is offered for up to {TSNE_MAX:,} points and this map has {len(rows):,}; raise the "
                   "minimum ratings. Showing PCA.")
        return None
    vectors = rec.shown_item_vectors if show == "movies" else rec.shown_user_vectors
    job = tsne_job(rec, show, rows, vectors)
    if job.error:
        st.error(md(job.error))
    elif job.coords is None:
        def tsne_progress() -> None:
            """Redrawn every second until the job ends; then the page reruns to draw the t-SNE map."""
            job.heartbeat()
            if job.coords is not None or job.error or not job.running:
                st.rerun()
            st.progress(job.done, text=f"t-SNE of {len(rows):,} {show}: {job.done:.0%} after "
                                       f"{job.elapsed():.0f} s (runs in the background; PCA meanwhile)")
        st.fragment(run_every=1.0)(tsne_progress)()
    return job.coords


def map_points(rec: Recommender, choice: MapChoice) -> MapPoints:
    """The chosen rows projected (PCA), in t-SNE's positions instead once a requested t-SNE has finished."""
    if choice.show == "movies":
        proj = item_projection(rec, int(choice.min_ratings), choice.dims)
        frame = item_frame(rec, proj)
    else:
        proj = user_projection(rec, int(choice.min_ratings) if choice.min_ratings <= rec.seen.counts().max() else 1,
                               choice.dims)
        users = rec.user_table().iloc[proj.rows].reset_index(drop=True)
        frame = pd.concat([users, proj.frame()], axis=1)
    coords = tsne_positions(rec, choice.show, proj.rows) if choice.method == "t-SNE" else None
    if coords is None:
        return MapPoints(proj, frame, "PCA")
    frame[["pc1", "pc2"]] = coords  # t-SNE positions in the map's two columns
    return MapPoints(proj, frame, "t-SNE")


def search_ui(rec: Recommender, frame: pd.DataFrame, where=st) -> Neighbours | None:
    """A title search among the mapped movies -> the chosen one and its 10 nearest neighbours on the map."""
    query = where.text_input("Find a movie on the map (highlights it and its 10 nearest neighbours)", key="emb_search")
    if not query:
        return None
    hits = rec.catalog.search(query, limit=20)
    hits = hits[hits.index.isin(frame.index)]
    if hits.empty:
        st.warning(f"No movie on the map contains {md(repr(query))} (lower the minimum ratings to show more).")
        return None
    target = where.selectbox("Movie", hits.index.tolist(), key="emb_target", format_func=lambda i: movie_label(rec, i))
    neighbours = rec.similar_items(rec.items.to_id([target])[0], 10,
                                   item_mask=np.isin(np.arange(rec.n_items), frame.index))
    rows = [target, *neighbours["item_idx"].tolist()]
    short = frame.loc[rows, "title"].astype(str).map(lambda t: t if len(t) <= 24 else t[:23] + "…")
    markers = frame.loc[rows].assign(
        label=[f"▶ {short.iloc[0]}"] + [str(n) for n in range(1, len(neighbours) + 1)],
        label_inside=[False] + [True] * len(neighbours),
        marker_color=[ACCENT] + [HIGHLIGHT] * len(neighbours))
    return Neighbours(target, neighbours, markers)


def movie_chart(choice: MapChoice, points: MapPoints, found: Neighbours | None, genre: str | None):
    """The movie map (PCA axes named by the titles at their ends) -> its box or lasso selection event (2D only)."""
    frame, proj = points.frame, points.proj
    axis_titles = None
    if points.layout == "PCA":
        # in 3D one title per end: three long titles in a turning box ran into each other
        axis_titles = [axis_title(frame, f"pc{i + 1}", f"PC{i + 1} ({proj.explained_variance_ratio[i]:.0%})",
                                  n=1 if choice.dims == 3 else 2, width=16) for i in range(choice.dims)]
    fig = mapcharts.embedding_map(frame, choice.color, choice.dims, proj.explained_variance_ratio,
                                  found.markers if found is not None else None, genre=genre,
                                  axis_titles=axis_titles, method=points.layout,
                                  title=f"{len(frame):,} movies with at least {_ratings(choice.min_ratings)}")
    if choice.dims == 2:
        return st.plotly_chart(fig, key="emb_map", on_select="rerun",
                               selection_mode=("box", "lasso", "points"))
    st.plotly_chart(fig, key="emb_map")
    return None


def neighbour_table(rec: Recommender, found: Neighbours) -> None:
    """The searched movie's nearest neighbours, numbered as on the map."""
    neighbours = found.table
    st.markdown(f"**Nearest neighbours of {md(movie_label(rec, found.target))}** (cosine similarity of the learned "
                "vectors: 1 = the same direction of taste; numbered as on the map; the order discounts movies with "
                "few ratings, so a slightly higher cosine can sit lower)")
    st.dataframe(neighbours.assign(**{"#": range(1, len(neighbours) + 1)})[
                     ["#", "title", "year", "similarity", "n_ratings"]], hide_index=True,
                 column_config={"year": YEAR_FORMAT,
                                "similarity": st.column_config.NumberColumn("cosine", format="%.3f"),
                                "n_ratings": "ratings"})


def selection_table(chosen: pd.DataFrame | None, dims: int, layout: str) -> None:
    """The movies inside a box or lasso on the map, most rated first, and a CSV of them (how to select, when
    none are)."""
    if chosen is not None and len(chosen):
        chosen = chosen.sort_values("n_ratings", ascending=False, kind="stable")
        st.markdown(f"**{len(chosen):,} selected movies**, most rated first (drag a box or lasso on the map, or "
                    "click a point; double-click the map to clear)")
        st.dataframe(chosen[["title", "year", "genres", "n_ratings", "bias"]], hide_index=True,
                     column_config={"year": YEAR_FORMAT, "n_ratings": "ratings",
                                    "bias": st.column_config.NumberColumn(format="%+.2f")})
        coordinates = ["pc1", "pc2"]
        if layout == "t-SNE":
            chosen, coordinates = chosen.rename(columns={"pc1": "tsne1", "pc2": "tsne2"}), ["tsne1", "tsne2"]
        name = f"cfstudio-selection-{layout.lower().replace('-', '')}.csv"
        st.download_button(f"Download the {len(chosen):,} selected movie{'s' if len(chosen) != 1 else ''} (CSV)",
                           lambda: selection_csv(chosen, coordinates), name, "text/csv", key="emb_dl_selection",
                           on_click="ignore")
    elif dims == 2:
        st.caption("Drag a box or a lasso on the map (or click a point) to list the movies inside it and download "
                   "them as CSV.")


def movie_map(rec: Recommender, choice: MapChoice, points: MapPoints) -> None:
    """The movie map with a search, a genre in colour, the nearest neighbours and a box or lasso selection."""
    frame = points.frame
    search_col, genre_col = st.columns([2, 1])
    found = search_ui(rec, frame, search_col)
    genre = genre_picker(rec, frame[["pc1", "pc2"]].to_numpy(), frame["genres"], "emb_genre", genre_col) \
        if choice.color == "genre" else None
    event = movie_chart(choice, points, found, genre)
    if found is not None:
        neighbour_table(rec, found)
    selection_table(selected_items(event, frame), choice.dims, points.layout)


def user_map(choice: MapChoice, points: MapPoints) -> None:
    """The user map, one point per user who rated enough movies."""
    fig = mapcharts.embedding_map(points.frame, choice.color, choice.dims, points.proj.explained_variance_ratio,
                                  hover="user", method=points.layout,
                                  title=f"{len(points.frame):,} users with at least {_ratings(choice.min_ratings)}")
    st.plotly_chart(fig, key="emb_map_users")


def reading_the_map(rec: Recommender, choice: MapChoice, points: MapPoints) -> None:
    """The movies at either end of each PCA axis, and the most and least liked movies."""
    st.subheader("Reading the map")
    if points.layout == "PCA":
        for axis in [f"pc{i + 1}" for i in range(min(choice.dims, 2))]:
            low, high = axis_extremes(points.frame, axis, 5)
            left, right = st.columns(2)
            left.markdown(f"**Low end of {axis.upper()}**")
            left.dataframe(low[["title", "year", "genres"]], hide_index=True, column_config={"year": YEAR_FORMAT})
            right.markdown(f"**High end of {axis.upper()}**")
            right.dataframe(high[["title", "year", "genres"]], hide_index=True, column_config={"year": YEAR_FORMAT})
    else:
        st.caption("t-SNE's axes have no meaning of their own: read the clusters, not the directions.")
    liked, disliked = rec.bias_extremes(10, min_ratings=max(20, int(choice.min_ratings)))
    left, right = st.columns(2)
    left.markdown("**Most liked** (highest movie bias)")
    left.dataframe(liked[["title", "year", "bias", "n_ratings"]], hide_index=True,
                   column_config={"year": YEAR_FORMAT, "bias": st.column_config.NumberColumn(format="%+.2f")})
    right.markdown("**Least liked** (lowest movie bias)")
    right.dataframe(disliked[["title", "year", "bias", "n_ratings"]], hide_index=True,
                    column_config={"year": YEAR_FORMAT, "bias": st.column_config.NumberColumn(format="%+.2f")})


def downloads(rec: Recommender, choice: MapChoice, points: MapPoints) -> None:
    """The map as CSV, and the raw vectors with their labels for TensorBoard's Embedding Projector."""
    st.subheader("Download")
    what, layout = choice.show, points.layout
    export = points.frame.drop(columns=[c for c in ("marker_color",) if c in points.frame.columns])
    if layout == "t-SNE":
        export = export.rename(columns={"pc1": "tsne1", "pc2": "tsne2"})
    rows = points.proj.rows
    vectors = rec.shown_item_vectors[rows] if what == "movies" else rec.shown_user_vectors[rows]
    meta_cols = ["item_id", "title", "year", "genres", "n_ratings"] if what == "movies" else ["user_id", "n_ratings"]
    a, b, c = st.columns(3)
    # each file is built when its button is clicked, not on every rerun of the page
    a.download_button(f"Map ({what}, {layout}, CSV)", lambda: frame_to_csv(export),
                      f"cfstudio-{what}-{layout.lower().replace('-', '')}.csv", "text/csv",
                      key="emb_dl_csv", on_click="ignore")
    b.download_button("Embeddings (vectors.tsv)", lambda: vectors_tsv(vectors),
                      f"cfstudio-{what}-vectors.tsv", "text/tab-separated-values", key="emb_dl_vectors", on_click="ignore")
    c.download_button("Metadata (metadata.tsv)", lambda: metadata_tsv(export[meta_cols]),
                      f"cfstudio-{what}-metadata.tsv", "text/tab-separated-values", key="emb_dl_meta", on_click="ignore")
    st.caption("Load vectors.tsv and metadata.tsv into TensorBoard's Embedding Projector (projector.tensorflow.org → "
               "Load) to explore the raw vectors with UMAP or a custom projection.")


st.title("Embeddings")
state.show_flash()
model = require_model()
if model is not None:  # without one, require_model drew a link to the Train page and the page ends here
    rec = model.recommender
    model_caption(model)
    if view_ui() == "Map over training":
        training_view(rec)
    else:
        choice = map_controls_ui(rec)
        points = map_points(rec, choice)
        if choice.show == "movies":
            movie_map(rec, choice, points)
        else:
            user_map(choice, points)
        if points.layout == "PCA":
            st.plotly_chart(mapcharts.explained_variance(points.proj.explained_variance_ratio), key="emb_variance")
        if choice.show == "movies":
            reading_the_map(rec, choice, points)
        downloads(rec, choice, points)
