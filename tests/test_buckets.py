"""Error by user activity and movie popularity, on a planted model whose light users are noisier."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.buckets import LABELS, bucket_of, error_by_bucket
from cfcore.evaluation import ranking_ladder
from cfcore.ids import IdMap
from cfcore.ratings import Ratings
from tests.test_recommender import _planted

N_USERS, N_ITEMS, LIGHT = 200, 150, 50  # users 0..49 have 3 training ratings, the others 30


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(3)
    users, items = [], []
    for u in range(N_USERS):
        chosen = rng.choice(N_ITEMS, 3 if u < LIGHT else 30, replace=False)
        users += [u] * len(chosen)
        items += chosen.tolist()
    user_map = IdMap([f"u{i}" for i in range(N_USERS)], "user")
    item_map = IdMap(list(range(100, 100 + N_ITEMS)), "item")
    train = Ratings(np.array(users), np.array(items), np.full(len(users), 3.0, np.float32), user_map, item_map)
    rec, _ = _planted(N_USERS, N_ITEMS, train=train)
    # held out: 10 unseen movies per user, rated the model's own prediction plus noise, 10x larger for light users
    seen = set(zip(users, items))
    hu, hi = [], []
    for u in range(N_USERS):
        unseen = [i for i in rng.permutation(N_ITEMS) if (u, i) not in seen][:10]
        hu += [u] * 10
        hi += unseen
    hu, hi = np.array(hu), np.array(hi)
    noise = rng.normal(0, 1.0, len(hu)) * np.where(hu < LIGHT, 1.0, 0.1)
    rating = rec.predict_idx(hu, hi) + noise
    held_out = Ratings(hu, hi, rating.astype(np.float32), user_map, item_map)
    return rec, held_out, noise


def test_buckets_are_the_documented_ranges():
    assert [LABELS[b] for b in bucket_of(np.array([0, 1, 5, 6, 20, 21, 100, 101, 5000]))] == \
        ["0 (new)", "1-5", "1-5", "6-20", "6-20", "21-100", "21-100", "over 100", "over 100"]


def test_light_users_show_their_planted_noise(planted):
    rec, held_out, noise = planted
    rows = error_by_bucket(rec, held_out)
    by_user = {r.bucket: r for r in rows if r.side == "users"}
    assert set(by_user) == {"1-5", "21-100"}  # 3 and 30 training ratings
    light = noise[held_out.user_idx < LIGHT]
    heavy = noise[held_out.user_idx >= LIGHT]
    assert by_user["1-5"].ratings == len(light) == 500
    assert by_user["1-5"].rmse == pytest.approx(np.sqrt(np.mean(light ** 2)), rel=1e-3)
    assert by_user["21-100"].rmse == pytest.approx(np.sqrt(np.mean(heavy ** 2)), rel=1e-3)
    assert by_user["1-5"].mae == pytest.approx(np.mean(np.abs(light)), rel=1e-3)
    assert by_user["1-5"].rmse > 5 * by_user["21-100"].rmse


def test_every_held_out_rating_and_ranked_user_is_counted_once(planted):
    rec, held_out, _ = planted
    rows = error_by_bucket(rec, held_out, k=5)
    for side in ("users", "movies"):
        assert sum(r.ratings for r in rows if r.side == side) == len(held_out)
    counts = np.bincount(rec.seen.items, minlength=rec.n_items)[held_out.item_idx]
    movies = {r.bucket: r.ratings for r in rows if r.side == "movies"}
    assert movies == {LABELS[b]: int(n) for b, n in enumerate(np.bincount(bucket_of(counts))) if n}
    users_with_relevant = len(np.unique(held_out.user_idx[held_out.rating >= 4.0]))
    assert sum(r.users_ranked for r in rows if r.side == "users") == users_with_relevant
    for r in rows:
        if r.side == "users" and r.users_ranked:
            assert 0.0 <= r.ndcg <= 1.0
        if r.side == "movies":
            assert r.ndcg is None and r.users_ranked is None


def test_a_model_judged_on_its_own_predictions_has_no_error(planted):
    rec, held_out, _ = planted
    exact = Ratings(held_out.user_idx, held_out.item_idx, rec.predict_idx(held_out.user_idx, held_out.item_idx),
                    held_out.users, held_out.items)
    for row in error_by_bucket(rec, exact):
        assert row.rmse == pytest.approx(0.0, abs=1e-6)


def test_the_ladders_per_user_ndcg_gives_the_same_buckets_without_ranking_again(planted):
    rec, held_out, _ = planted
    ladder = ranking_ladder(rec, held_out, k=10, threshold=3.0)
    users, ndcg = ladder.users, ladder.ndcg
    assert len(users) > 0 and ndcg.shape == users.shape
    reused = error_by_bucket(rec, held_out, k=10, threshold=3.0, ndcg_by_user=(users, ndcg))
    assert reused == error_by_bucket(rec, held_out, k=10, threshold=3.0)
