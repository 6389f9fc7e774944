"""Splits are disjoint, complete, seeded, and respect per-user and temporal rules."""

from __future__ import annotations

import numpy as np
import pytest

from cfcore.errors import ConfigError, DataError
from cfcore.ids import IdMap
from cfcore.ratings import Ratings
from cfcore.split import split, with_test_set


def _rows(r: Ratings) -> set[tuple[int, int]]:
    return set(zip(r.user_idx.tolist(), r.item_idx.tolist()))


@pytest.mark.parametrize("method", ["random", "user", "time"])
def test_disjoint_complete_seeded(movielens, method):
    ratings = movielens.ratings
    a = split(ratings, method, 0.2, seed=3)
    b = split(ratings, method, 0.2, seed=3)
    c = split(ratings, method, 0.2, seed=4)
    assert _rows(a.train).isdisjoint(_rows(a.val))
    assert len(a.train) + len(a.val) == len(ratings)
    assert _rows(a.train) | _rows(a.val) == _rows(ratings)
    assert np.array_equal(a.val.user_idx, b.val.user_idx) and np.array_equal(a.val.item_idx, b.val.item_idx)
    assert abs(len(a.val) / len(ratings) - 0.2) < 0.01
    if method != "time":  # the temporal split only breaks exact timestamp ties with the seed
        assert _rows(a.val) != _rows(c.val)
    assert a.train.users is ratings.users and a.val.items is ratings.items  # same index space


def test_per_user_keeps_light_users_in_train(movielens):
    ratings = movielens.ratings
    parts = split(ratings, "user", 0.1, seed=0, min_user_ratings=25)
    counts = ratings.user_counts()
    light = np.flatnonzero(counts < 25)
    assert len(light) > 0
    assert not np.isin(parts.val.user_idx, light).any()
    heavy = np.flatnonzero(counts >= 25)
    assert set(np.unique(parts.val.user_idx)) == set(heavy)
    val_counts = parts.val.user_counts()[heavy]
    assert np.all(val_counts == np.maximum(1, np.round(counts[heavy] * 0.1)))


def test_temporal_holds_out_each_users_latest(movielens):
    ratings = movielens.ratings
    parts = split(ratings, "time", 0.2, seed=0)
    last_train = np.full(ratings.n_users, -np.inf)
    np.maximum.at(last_train, parts.train.user_idx, parts.train.timestamp)
    first_val = np.full(ratings.n_users, np.inf)
    np.minimum.at(first_val, parts.val.user_idx, parts.val.timestamp)
    users = np.unique(parts.val.user_idx)
    assert np.all(last_train[users] <= first_val[users])


def test_report_counts_unseen(tiny_ratings):
    parts = split(tiny_ratings, "random", 0.5, seed=1)
    summary = parts.summary()
    assert summary["train_ratings"] == 3 and summary["val_ratings"] == 3
    unseen_items = set(parts.val.item_idx) - set(parts.train.item_idx)
    assert summary["val_items_unseen_in_train"] == len(unseen_items)


def test_bad_split_arguments(tiny_ratings):
    with pytest.raises(ConfigError, match="between 0 and 1"):
        split(tiny_ratings, "random", 1.5)
    with pytest.raises(ConfigError, match="unknown split method 'weird'"):
        split(tiny_ratings, "weird")
    no_time = Ratings(tiny_ratings.user_idx, tiny_ratings.item_idx, tiny_ratings.rating,
                      tiny_ratings.users, tiny_ratings.items)
    with pytest.raises(ConfigError, match="needs timestamps"):
        split(no_time, "time")
    one = tiny_ratings.subset(np.array([0]))
    with pytest.raises(DataError, match="at least 2"):
        split(one, "random")
    with pytest.raises(DataError, match="no rating in validation"):
        split(tiny_ratings, "user", 0.1, min_user_ratings=10)


def test_explicit_test_set_extends_maps(tiny_ratings):
    test = Ratings(np.array([0, 1]), np.array([0, 1]), np.array([3.0, 4.0], np.float32),
                   IdMap([10, 99], "user"), IdMap(["a", "zz"], "item"))
    parts = split(tiny_ratings, "random", 0.5, seed=1)
    aligned, aligned_test = with_test_set(parts, test)
    assert list(aligned.train.users.index) == [10, 20, 30, 99]
    assert list(aligned.val.items.index) == ["a", "b", "c", "zz"]
    assert np.array_equal(aligned.train.user_idx, parts.train.user_idx)  # old indices unchanged
    assert np.array_equal(aligned.val.item_idx, parts.val.item_idx)
    assert aligned_test.users.to_id(aligned_test.user_idx).tolist() == [10, 99]
