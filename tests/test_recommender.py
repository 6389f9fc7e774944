"""Queries with known answers: planted neighbours, a planted user recovered by fold-in, explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfcore.errors import DataError, UnknownIdError
from cfcore.evaluation import evaluate_ranking
from cfcore.ids import IdMap
from cfcore.metrics import ranking_metrics
from cfcore.projection import project
from cfcore.queries import Recommender, top_k
from cfcore.rankers.mf import RatingModelRanker
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings


def _planted(n_users=30, n_items=40, dim=6, seed=0, train=None):
    """A Recommender with chosen weights: item 1 is a scaled copy of item 0, global bias 3; the rating model
    orders the lists."""
    rng = np.random.default_rng(seed)
    users = rng.normal(0, 0.5, (n_users, dim))
    items = rng.normal(0, 0.5, (n_items, dim))
    items[1] = 2.5 * items[0]
    rating = RatingModel(users.astype(np.float32), items.astype(np.float32),
                         rng.normal(0, 0.2, n_users).astype(np.float32), rng.normal(0, 0.2, n_items).astype(np.float32),
                         3.0, (1.0, 5.0))
    user_map = IdMap([f"u{i}" for i in range(n_users)], "user")
    item_map = IdMap(list(range(100, 100 + n_items)), "item")
    if train is None:  # user u0 rated items 0..4; everyone else item 5
        u = np.array([0, 0, 0, 0, 0] + list(range(1, n_users)))
        i = np.array([0, 1, 2, 3, 4] + [5] * (n_users - 1))
        train = Ratings(u, i, np.array([5, 4, 1, 2, 3] + [3] * (n_users - 1), np.float32), user_map, item_map)
    catalog = pd.DataFrame({"item_id": item_map.index, "title": [f"Film {i}" for i in range(n_items)],
                            "year": np.linspace(1950, 2020, n_items), "genres": ["Drama|War", "Comedy"] * (n_items // 2)})
    return Recommender.build(rating, RatingModelRanker(rating), train, catalog), train


def test_similar_items_finds_the_planted_neighbour():
    rec, _ = _planted()
    top = rec.similar_items(100, k=3)
    assert top["item_id"].iloc[0] == 101 and top["similarity"].iloc[0] == pytest.approx(1.0, abs=1e-5)
    assert 100 not in top["item_id"].tolist() and len(top) == 3
    assert top["similarity"].is_monotonic_decreasing
    assert list(top.columns[:4]) == ["item_idx", "item_id", "title", "year"]


def test_recommend_excludes_seen_and_orders_by_prediction():
    rec, _ = _planted()
    top = rec.recommend("u0", k=5)
    assert not set(top["item_id"]) & {100, 101, 102, 103, 104}
    all_scores = rec.scores_for_user(0)
    unseen = np.setdiff1d(np.arange(rec.n_items), [0, 1, 2, 3, 4])
    raw = rec.item_factors_[unseen] @ rec.user_factors_[0] + rec.item_bias_[unseen]
    assert top["item_idx"].tolist() == unseen[np.argsort(-raw)[:5]].tolist()
    assert np.allclose(top["predicted_rating"], all_scores[top["item_idx"]])
    with_seen = rec.recommend("u0", k=rec.n_items, exclude_seen=False)
    assert len(with_seen) == rec.n_items
    with pytest.raises(UnknownIdError, match="unknown user_id 'nobody'"):
        rec.recommend("nobody")


def test_filters_limit_candidates():
    rec, _ = _planted()
    mask = rec.catalog.filter(genre="Comedy", years=(1960, 2000))
    top = rec.recommend("u0", k=50, item_mask=mask)
    assert len(top) > 0 and all("Comedy" in g for g in top["genres"])
    assert top["year"].between(1960, 2000).all()
    assert rec.catalog.genres() == ["Comedy", "Drama", "War"]


def test_explanation_parts_sum_to_prediction():
    rec, _ = _planted()
    for user, item in [("u0", 110), ("u3", 120), ("u7", 101)]:
        parts = rec.explain(user, item)
        total = sum(v for k, v in parts.items() if k != "prediction")
        assert total == pytest.approx(parts["prediction"], abs=1e-5)
        assert parts["prediction"] == pytest.approx(rec.predict([user], [item])[0], abs=1e-5)
    # force a clipped prediction: the range limit part carries the difference
    rec.user_bias_[0] += 10
    parts = rec.explain("u0", 110)
    assert parts["prediction"] == 5.0 and parts["range limit"] < 0


def test_fold_in_recovers_a_planted_user():
    rec, _ = _planted(n_items=200, dim=6)
    rng = np.random.default_rng(1)
    true_vec, true_bias = rng.normal(0, 0.4, 6), 0.3
    items = np.arange(60)
    rating = rec.global_bias_ + true_bias + rec.item_bias_[items] + rec.item_factors_[items] @ true_vec
    assert (rating > 1).all() and (rating < 5).all()  # no clipping: the planted ratings are exact
    pairs = list(zip(rec.items.to_id(items).tolist(), rating.tolist()))
    vec, bias = rec.fold_in(pairs, reg=1e-6)
    assert np.allclose(vec, true_vec, atol=1e-3) and bias == pytest.approx(true_bias, abs=1e-3)
    recs = rec.recommend_new_user(pairs[:3], k=5)
    assert not set(recs["item_id"]) & {p[0] for p in pairs[:3]} and len(recs) == 5


def test_cold_start_shows_popular_well_rated():
    rec, train = _planted()
    popular = rec.recommend_new_user([], k=3, min_ratings_popular=1)
    assert "shrunk_mean_rating" in popular.columns
    assert popular["item_id"].iloc[0] == 100  # rated 5 once; item 105 has many 3s, shrunk toward the mean


def test_because_you_liked_picks_closest_liked_items():
    rec, _ = _planted()
    because = rec.because_you_liked("u0", 101, n=2)
    assert because["item_id"].iloc[0] == 100 and because["their_rating"].iloc[0] == 5
    assert because["similarity"].iloc[0] == pytest.approx(1.0, abs=1e-5)  # the rating model's measure


def test_predict_unknown_ids_uses_known_parts():
    rec, _ = _planted()
    pred = rec.predict(["nobody", "u0"], [100, 999])
    assert pred[0] == pytest.approx(np.clip(3.0 + rec.item_bias_[0], 1, 5), abs=1e-5)
    assert pred[1] == pytest.approx(np.clip(3.0 + rec.user_bias_[0], 1, 5), abs=1e-5)


def test_item_without_vector_has_no_neighbours():
    rec, _ = _planted()
    rec._unit_items[7] = 0
    with pytest.raises(DataError, match="no learned vector"):
        rec.similar_items(107)


def test_search_is_literal():
    rec, _ = _planted()
    assert rec.catalog.search("film 1")["title"].str.startswith("Film 1").all()
    assert rec.catalog.search("(").empty  # no regex surprises


def test_ranking_metrics_known_answer():
    top = np.array([[1, 2, 3], [4, 5, 6]])
    relevant = [np.array([1, 3, 9]), np.array([7])]
    got = ranking_metrics(top, relevant, n_items=10)
    assert got["precision"] == pytest.approx((2 / 3 + 0) / 2)
    assert got["recall"] == pytest.approx((2 / 3 + 0) / 2)
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert got["ndcg"] == pytest.approx(((1 + 1 / np.log2(4)) / ideal + 0) / 2)
    assert got["coverage"] == pytest.approx(0.6)


def test_evaluate_ranking_rewards_the_planted_taste():
    rec, _ = _planted()
    test_items = rec.top_k_idx(np.array([0, 1]), 2)
    val = Ratings(np.array([0, 0, 1]), np.array([test_items[0, 0], test_items[0, 1], 5]),
                  np.array([5.0, 4.5, 2.0], np.float32), rec.users, rec.items)
    got = evaluate_ranking(rec, val, k=2, threshold=4.0)
    assert got.users == 1 and got.precision == 1.0 and got.recall == 1.0 and got.ndcg == pytest.approx(1.0)


def test_top_k_breaks_ties_by_the_lower_index_whatever_the_partition_picks():
    scores = np.array([[1.0, 5.0, 3.0, 3.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]], np.float32)
    idx, values = top_k(scores, 3)
    assert idx.tolist() == [[1, 2, 3], [0, 1, 2]] and values.tolist() == [[5.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    rng = np.random.default_rng(0)
    many = rng.integers(0, 4, (50, 30)).astype(np.float32)  # ties everywhere
    idx, _ = top_k(many, 7)
    assert idx.tolist() == [np.argsort(-row, kind="stable")[:7].tolist() for row in many]


def test_projection_recovers_planted_axes():
    rng = np.random.default_rng(0)
    coords = rng.normal(0, [3.0, 1.0], (500, 2))
    basis = np.linalg.qr(rng.normal(size=(10, 10)))[0][:2]
    emb = coords @ basis + rng.normal(0, 0.01, (500, 10))
    proj = project(emb, 2)
    assert proj.explained_variance_ratio.sum() > 0.99
    assert proj.explained_variance_ratio[0] == pytest.approx(0.9, abs=0.03)
    assert np.allclose(proj.transform(emb[:5]), proj.coords[:5], atol=1e-8)
    frame = proj.frame(pd.DataFrame({"title": [f"t{i}" for i in range(500)]}))
    assert list(frame.columns) == ["title", "pc1", "pc2"]
