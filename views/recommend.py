"""Recommend page: a user's favourites beside their recommendations (explained), similar movies,
recommendations for a brand-new user, and the active model's ranking quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cfcore.errors import CFError
from cfcore.evaluation import ranking_ladder
from cfcore.export import all_users_top_k_csv
from cfcore.figures import charts
from cfcore.figures import maps as mapcharts
from cfcore.queries import Recommender
from cfcore.rankers import registry
from cfcore.ratings import Ratings
from ui import state
from ui.models import item_frame, item_projection, movie_label, popular_items, require_model
from ui.ranking import ladder_panel
from ui.text import md

YEAR_FORMAT = st.column_config.NumberColumn("year", format="%d", width=48)
TITLE_WIDTH = 170  # pixels: room for most titles, and the stars beside them in half of a 1000 px window
VALUE_LABELS = {"predicted_rating": "stars", "shrunk_mean_rating": "stars (shrunk)"}  # short headers keep it narrow
TABS = ["For a user", "Similar movies", "New user", "Ranking quality"]


def model_caption(model: state.ActiveModel) -> None:
    """Which model answers, on which data, and what orders its lists."""
    rec = model.recommender
    st.caption(f"Active model: {md(model.label)} · trained on {md(rec.record.dataset.name or 'unknown data')}. Lists "
               f"are ordered by {registry.label(rec.kind)}; the stars beside each pick are the rating model's prediction.")


MATCH_HELP = ("How strongly the ranking model picks it for them: the share of the movies they have not rated that "
              "it places below this one (99.9% = in their top 0.1%).")
VS_AVERAGE_HELP = ("The predicted stars minus this user's own average rating: a harsh rater's 3.2 stars can be the "
                   "highest they give.")


def table(frame: pd.DataFrame, value: str | None = None, fmt: str = "%.1f", numbered: bool = False) -> None:
    """A list of movies; ``numbered`` puts its rank first (the new-user map numbers its points the same way). A
    recommendation list also shows its match and its stars against the user's own average. The title and the
    value are pinned and narrow, so half of a 1000 px window shows both; genres and counts scroll."""
    columns = {"title": st.column_config.TextColumn("title", pinned=True, width=TITLE_WIDTH),
               "year": YEAR_FORMAT, "n_ratings": st.column_config.NumberColumn("ratings", width="small"),
               "genres": st.column_config.TextColumn("genres", width="medium"),
               "match": st.column_config.NumberColumn("match", format="%.1f%%", width="small", help=MATCH_HELP),
               "vs_average": st.column_config.NumberColumn("vs avg", format="%+.1f", width="small",
                                                           help=VS_AVERAGE_HELP)}
    if value:
        columns[value] = st.column_config.NumberColumn(VALUE_LABELS.get(value, value.replace("_", " ")), format=fmt,
                                                       pinned=True, width="small")
    extra = [c for c in ("match", "vs_average") if c in frame.columns]
    # the numbers people look for go right after the title, before the long genre lists
    shown = frame[["title", *([value] if value else []), *extra, "year", "genres", "n_ratings"]]
    if "match" in shown:
        shown = shown.assign(match=100 * shown["match"])  # a percentage to one decimal: 99.9% (top 0.1%), not 100%
    if numbered:
        shown = shown.assign(**{"#": np.arange(1, len(shown) + 1)})[["#", *shown.columns]]
        columns["#"] = st.column_config.NumberColumn("#", pinned=True, width=28)
    st.dataframe(shown, hide_index=True, column_config=columns)


def filters_ui(rec: Recommender, key: str) -> np.ndarray:
    """Genre, minimum ratings and year range -> an item mask."""
    years = rec.catalog.frame["year"].dropna()
    a, b, c = st.columns(3)
    genre = a.selectbox("Genre", ["All", *rec.catalog.genres()], key=f"{key}_genre")
    min_ratings = b.slider("Minimum number of ratings", 0, 200, 10, 5, key=f"{key}_min_ratings",
                           help="Movies with few ratings have noisy learned vectors.")
    if len(years):
        lo, hi = int(years.min()), int(years.max())
        span = c.slider("Years", lo, hi, (lo, hi), key=f"{key}_years") if lo < hi else (lo, hi)
    else:
        span = None
    return rec.catalog.filter(None if genre == "All" else genre, min_ratings, span)


def user_ui(rec: Recommender, users: pd.DataFrame, where=st) -> object:
    """A picker of the users who rated something (a search box on huge datasets) -> their raw user_id."""
    active_users = users[users["n_ratings"] > 0]
    asked = state.url_choice(state.REC_USER)  # a shared link names a user
    if asked is not None:
        match = active_users["user_id"][active_users["user_id"].astype(str) == asked]
        if len(match):
            st.session_state[state.REC_USER] = match.iloc[0]
    if state.REC_USER not in st.session_state and len(active_users):
        # the first look (the demo lands here): a user whose taste is easy to see, not whoever has the lowest id
        st.session_state[state.REC_USER] = state.memo(rec, ("showcase",), rec.showcase_user)
    if len(active_users) <= 20_000:
        return where.selectbox("User (type to search)", active_users["user_id"].tolist(), key=state.REC_USER,
                               format_func=lambda u: f"user {u} · {int(users.loc[rec.users.idx(u), 'n_ratings'])} ratings")
    return where.text_input("User id", value=str(active_users["user_id"].iloc[0]), key="rec_user_text")


def explain_panel(rec: Recommender, user_id, recs: pd.DataFrame) -> None:
    """Why a recommendation: its predicted rating as a waterfall, and the movies they liked that pushed it up."""
    st.markdown("**Why this recommendation?**")
    choice = st.selectbox("Recommendation to explain", recs["item_idx"].tolist(), key="rec_explain",
                          format_func=lambda i: movie_label(rec, i))
    item_id = rec.items.to_id([choice])[0]
    parts = rec.explain(user_id, item_id)
    a, b = st.columns([3, 2])
    a.plotly_chart(charts.explanation_waterfall(parts, f"Predicted rating for {movie_label(rec, choice)}"),
                   key="rec_waterfall")
    with b:
        st.caption("The prediction is the average rating, plus how generously this user rates (user bias), "
                   "plus how well liked the movie is overall (movie bias), plus the taste match: how well "
                   "the movie's learned profile lines up with the user's. A range limit, when shown, is the "
                   "part cut off to keep the prediction on the rating scale.")
        because = rec.because_you_liked(user_id, item_id, n=3)
        if len(because):
            st.markdown("**Because they liked**")
            measure = rec.ranker.because_measure  # what the ranking model says pushed the pick up
            for _, row in because.iterrows():
                year = "" if pd.isna(row["year"]) else f" ({row['year']:.0f})"
                st.markdown(f"- {md(row['title'])}{year}: rated {row['their_rating']:g}, "
                            f"{measure} {row[measure]:.3f}")
            st.caption(rec.ranker.because_help)
        else:
            st.caption("None of the movies they liked is close to this one; it was picked for other "
                       "reasons (its overall appeal, or taste they share with similar users).")


def user_tab(rec: Recommender) -> None:
    """A user's highest-rated movies beside their recommendations, and why the model picked one."""
    users = rec.user_table()
    left, right = st.columns([2, 1])
    user_id = user_ui(rec, users, left)
    k = right.slider("How many recommendations", 5, 50, 10, key="rec_k")
    mask = filters_ui(rec, "rec")
    try:
        recs = rec.recommend(user_id, k, item_mask=mask)
        favourites = rec.user_ratings(user_id, k=k)
    except CFError as exc:
        st.error(md(exc))
        return
    left, right = st.columns(2)
    with left:
        row = users.loc[rec.users.idx(user_id)]
        st.markdown(f"**Their highest-rated movies** ({int(row['n_ratings'])} rated, on average "
                    f"{row['mean_rating']:.1f} stars)")
        table(favourites, "rating", "%.1f")
    with right:
        st.markdown(f"**Top {len(recs)} recommendations** (movies they have not rated, in training or "
                    "held out)")
        if recs.empty:
            st.warning("No movie passes the filters; loosen them.")
        else:
            table(recs, "predicted_rating")
    if not recs.empty:
        explain_panel(rec, user_id, recs)
    all_users_download(rec, k)


def all_users_download(rec: Recommender, k: int) -> None:
    """Everyone's top-k as the CLI's ``recommend --all-users`` CSV, built when clicked (not on every rerun)."""
    st.download_button(f"Download top-{k} for all users (CSV)", data=lambda: all_users_top_k_csv(rec, k),
                       file_name=f"cfstudio-top{k}-all-users.csv", mime="text/csv", key="rec_download_all",
                       on_click="ignore", help=f"One row per user and rank: user_id, rank, item_id, score, title; "
                                           f"{rec.n_users:,} users. Movies a user rated, in training or held out, "
                                           "are left out. The filters above do not apply.")


def similar_hits_ui(rec: Recommender) -> pd.DataFrame | None:
    """A title search (or a shared link's movie) -> its matches (the most rated when empty); None if none match."""
    asked = state.url_choice(state.SIM_MOVIE)  # a shared link names a movie by its item_id
    if asked is not None:
        found = np.flatnonzero(rec.catalog.frame["item_id"].astype(str).to_numpy() == asked)
        if len(found):
            st.session_state[state.SIM_QUERY] = str(rec.catalog.frame["title"].iloc[found[0]])
            st.session_state[state.SIM_MOVIE] = int(found[0])
    if state.SIM_QUERY not in st.session_state:
        st.session_state[state.SIM_QUERY] = "Toy Story" if rec.record.dataset.name == "MovieLens sample" else ""
    query = st.text_input("Search a title", key=state.SIM_QUERY)
    hits = rec.catalog.search(query, limit=50) if query else rec.catalog.frame.iloc[popular_items(rec, 50)]
    if hits.empty:
        st.warning(f"No title contains {md(repr(query))}.")
        return None
    return hits


def similar_tab(rec: Recommender) -> None:
    """The movies whose learned vectors point the same way as a chosen movie's."""
    hits = similar_hits_ui(rec)
    if hits is None:
        return
    a, b, c = st.columns([3, 1, 1])
    chosen = a.selectbox("Movie", hits.index.tolist(), key=state.SIM_MOVIE, format_func=lambda i: movie_label(rec, i))
    k_similar = b.slider("How many", 5, 50, 10, key="sim_k")
    min_similar = c.slider("Minimum ratings", 1, 200, 20, key="sim_min_ratings",
                           help="Movies with fewer ratings have noisy learned vectors; they are also ranked "
                                "lower (cosine x n / (n + 10)), so a handful of ratings cannot top the list.")
    try:
        similar = rec.similar_items(rec.items.to_id([chosen])[0], k_similar,
                                    item_mask=rec.catalog.filter(min_ratings=min_similar))
    except CFError as exc:
        st.error(md(exc))
        return
    st.markdown(f"**Movies most like {md(movie_label(rec, chosen))}** (cosine similarity of {rec.vectors_label}; "
                "the order discounts movies with few ratings)")
    table(similar, "similarity", "%.2f")


def new_ratings_ui(rec: Recommender) -> list[tuple[object, float]]:
    """Movies a new user has seen, each with a rating slider -> (item_id, rating) pairs."""
    offer = popular_items(rec, 20_000)
    # no "Select N matches" bulk entry: it sits first in the list, so Enter after typing a title picked
    # every match instead of the movie the person meant
    picked = st.multiselect("Movies you have seen (type to search)", offer.tolist(), key="new_movies",
                            format_func=lambda i: movie_label(rec, i), max_selections=20, select_all=False)
    scale = rec.scale
    step = scale.step or 0.5
    # a new rating starts at the scale's upper-middle (4 of 0.5-5): picking a movie says little about liking it
    start = float(min(scale.max, max(scale.min, round((scale.min + 0.75 * (scale.max - scale.min)) / step) * step)))
    decimals = 0 if float(step).is_integer() else 1
    pairs = []
    if picked:
        cols = st.columns(min(3, len(picked)))
        for n, item in enumerate(picked):
            value = cols[n % len(cols)].slider(md(movie_label(rec, item)), float(scale.min), float(scale.max),
                                               start, float(step), key=f"new_rating_{item}", format=f"%.{decimals}f")
            pairs.append((rec.items.to_id([item])[0], value))
    return pairs


def new_user_map(rec: Recommender, pairs: list[tuple[object, float]], result: pd.DataFrame) -> None:
    """The movie map with the new user's rated movies, their recommendations (numbered) and their taste."""
    vec = rec.shown_profile(pairs)
    proj = item_projection(rec, 20, 2)
    frame = item_frame(rec, proj)
    rated_idx = rec.items.to_idx([p[0] for p in pairs])
    shown_idx = result["item_idx"].to_numpy()  # every recommendation, in list order
    rated_xy = proj.transform(rec.shown_item_vectors[rated_idx])
    shown_xy = proj.transform(rec.shown_item_vectors[shown_idx])
    fig = mapcharts.new_user_map(
        frame,
        pd.DataFrame({"pc1": rated_xy[:, 0], "pc2": rated_xy[:, 1], "rating": [p[1] for p in pairs],
                      "title": rec.catalog.frame["title"].iloc[rated_idx].to_numpy()}),
        pd.DataFrame({"pc1": shown_xy[:, 0], "pc2": shown_xy[:, 1],
                      "title": rec.catalog.frame["title"].iloc[shown_idx].to_numpy()}),
        proj.transform(vec[None, :])[0], proj.explained_variance_ratio, (rec.scale.min, rec.scale.max))
    st.plotly_chart(fig, key="new_user_map")
    st.caption(f"The map of {rec.vectors_label}: ● the movies you rated, coloured by your rating · ◆ your "
               "recommendations, numbered as in the list · ★ your taste. Hover a point for its title.")


def new_user_tab(rec: Recommender) -> None:
    """Recommendations for someone who rates a few movies here, without retraining, and where they land."""
    st.caption(f"Rate a few movies as a new user: recommendations update at once, without retraining. The list is "
               f"ordered by {registry.label(rec.kind)} from your ratings; the stars come from the rating model, your "
               "taste vector solved against its movie vectors.")
    pairs = new_ratings_ui(rec)
    k_new = st.slider("How many recommendations", 5, 30, 10, key="new_k")
    new_mask = filters_ui(rec, "new")
    result = rec.recommend_new_user(pairs, k_new, item_mask=new_mask)
    if not pairs:
        st.info("You have not rated anything yet, so these are simply the most popular well-rated movies. Each "
                "movie's mean rating is counted as if 20 extra people had given it the overall average, so a "
                "movie rated 5 by two people does not beat one rated 4.5 by three hundred. Rate a few to personalise.")
        table(result, "shrunk_mean_rating")
        return
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**Recommended for you** (from {len(pairs)} rating{'s' if len(pairs) > 1 else ''})")
        table(result, "predicted_rating", numbered=True)
    with right:
        new_user_map(rec, pairs, result)


def quality_tab(rec: Recommender, val: Ratings | None) -> None:
    """Precision, recall, NDCG and coverage of the model's lists on ``val``, beside the other rankings."""
    if val is None:
        st.info("Ranking quality needs the validation ratings of the split this model was trained on. Make the "
                "dataset it was trained on active on the Data page, or train a model in this session.")
        return
    a, b = st.columns(2)
    k_eval = a.slider("k (list length)", 5, 50, 10, key="quality_k")
    threshold = b.slider("Relevant when rated at least", float(rec.scale.min), float(rec.scale.max),
                         min(4.0, float(rec.scale.max)), float(rec.scale.step or 0.5), key="quality_threshold")
    ladder = state.memo(rec, ("ranking", k_eval, threshold),
                        lambda: ranking_ladder(rec, val, k=k_eval, threshold=threshold).rows)
    scores = ladder[rec.kind]
    c = st.columns(4)
    c[0].metric(f"Precision@{k_eval}", f"{scores.precision:.3f}")
    c[1].metric(f"Recall@{k_eval}", f"{scores.recall:.3f}")
    c[2].metric(f"NDCG@{k_eval}", f"{scores.ndcg:.3f}")
    c[3].metric("Catalogue coverage", f"{scores.coverage:.1%}")
    st.caption(f"Over {scores.users:,} validation users with at least one movie rated ≥ {threshold:g}. For each, "
               "every movie they did not rate in training is ranked; a hit is a held-out movie they rated that "
               "high. Coverage is the share of the catalogue that appears in anyone's top list.")
    ladder_panel(ladder, rec.kind, "quality_ladder")


st.title("Recommend")
state.show_flash()
model = require_model()
if model is not None:  # without one, require_model drew a link to the Train page and the page ends here
    rec = model.recommender
    model_caption(model)
    user, similar, new_user, quality = st.tabs(TABS)
    with user:
        user_tab(rec)
    with similar:
        similar_tab(rec)
    with new_user:
        new_user_tab(rec)
    with quality:
        quality_tab(rec, model.val)
