"""Id maps never confuse raw ids and indices; the synthetic generator is seeded and exact."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.errors import UnknownIdError
from cfcore.ids import IdMap
from cfcore.synthetic import SyntheticSpec, generate


def test_int_map_round_trip_and_typed_queries():
    ids = IdMap([7, 3, 11], "user")
    assert ids.to_idx([11, 7]).tolist() == [2, 0]
    assert ids.to_id([2, 0]).tolist() == [11, 7]
    assert ids.idx("3") == 1 and ids.idx(3.0) == 1  # ids typed by a person
    assert ids.to_idx(["x", 7], missing="ignore").tolist() == [-1, 0]
    with pytest.raises(UnknownIdError, match="unknown user_id 8"):
        ids.idx(8)
    with pytest.raises(KeyError):  # still a KeyError for callers that expect one
        ids.idx("3.5")
    assert ids.to_list() == [7, 3, 11] and all(type(x) is int for x in ids.to_list())


def test_string_map_with_unicode_and_spaces():
    raw = ["naïve user", "用户", "x" * 500]
    ids = IdMap(raw, "user")
    assert ids.to_idx(["用户"]).tolist() == [1]
    assert ids.to_list() == raw
    with pytest.raises(UnknownIdError, match="unknown user_id 'nobody'"):
        ids.idx("nobody")
    numbers = IdMap(["1", "2"], "item")
    assert numbers.idx(2) == 1  # an int query finds the string id


def test_from_values_sorted_and_duplicates_refused():
    ids, codes = IdMap.from_values(np.array([30, 10, 30, 20]), "item")
    assert ids.index.tolist() == [10, 20, 30] and codes.tolist() == [2, 0, 2, 1]
    with pytest.raises(ValueError, match="appears twice"):
        IdMap([1, 1], "item")


def test_synthetic_is_seeded_exact_and_low_rank():
    spec = SyntheticSpec(n_ratings=5000, n_users=100, n_items=120, rank=3, noise=0.0, seed=5)
    a, b = generate(spec), generate(spec)
    r = a.dataset.ratings
    assert len(r) == 5000 and np.array_equal(r.rating, b.dataset.ratings.rating)
    assert len(set(zip(r.user_idx.tolist(), r.item_idx.tolist()))) == 5000  # distinct pairs
    assert np.allclose(a.true_rating(r.user_idx, r.item_idx), r.rating, atol=1e-5)  # noise 0: exact
    counts = np.sort(r.item_counts())[::-1]
    assert counts[:12].sum() > 3 * counts[-12:].sum()  # a long tail
    assert generate(SyntheticSpec(n_ratings=5000, n_users=100, n_items=120, seed=6)).dataset.ratings.rating[0] != r.rating[0]
    assert set(a.dataset.catalog["genres"]) <= {"Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"}


def test_synthetic_noise_is_the_floor():
    data = generate(SyntheticSpec(n_ratings=20_000, n_users=300, n_items=200, noise=0.5, seed=1))
    r = data.dataset.ratings
    resid = r.rating - data.true_rating(r.user_idx, r.item_idx)
    assert np.sqrt(np.mean(resid**2)) == pytest.approx(0.5, abs=0.01)
