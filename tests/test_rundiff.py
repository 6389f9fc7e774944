"""Comparing two runs by their lists and their movie biases, with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cfcore.errors import DataError
from cfcore.ids import IdMap
from cfcore.ratings import Ratings
from cfcore.rundiff import diff_runs
from tests.conftest import legacy_record
from tests.test_recommender import _planted


def test_a_run_compared_with_itself_is_identical():
    rec, _ = _planted(60, 50)
    diff = diff_runs(rec, rec, k=10)
    assert diff.users_compared == 60
    assert diff.mean_jaccard == 1.0 and diff.bias_correlation == pytest.approx(1.0)
    assert (diff.users_changed["jaccard"] == 1.0).all()
    assert (diff.bias_movers["change"] == 0).all() and (diff.list_movers["change"] == 0).all()
    assert (diff.users_changed["only_a"] == "").all()


def test_reversed_movie_biases_correlate_minus_one_and_move_the_lists():
    a, _ = _planted(60, 50)
    b, _ = _planted(60, 50)
    b.item_bias_[:] = -a.item_bias_ * 20  # the same model with every movie's popularity reversed and amplified
    diff = diff_runs(a, b, k=10, n=5)
    assert diff.bias_correlation == pytest.approx(-1.0)
    biggest = int(np.argmax(np.abs(a.item_bias_)))
    assert diff.bias_movers["item_id"].iloc[0] == a.items.index[biggest]
    assert diff.bias_movers["change"].iloc[0] == pytest.approx(-21 * a.item_bias_[biggest], rel=1e-5)
    assert diff.mean_jaccard < 0.5
    changed = diff.users_changed
    assert len(changed) == 5 and changed["jaccard"].is_monotonic_increasing
    row = changed.iloc[0]  # the least overlapping list: its titles on each side are the ones the other lacks
    assert row["only_a"] and row["only_b"] and not set(row["only_a"].split(", ")) & set(row["only_b"].split(", "))
    moved = diff.list_movers  # how many of the 60 users' lists each movie is in, biggest change first
    assert moved["change"].abs().is_monotonic_decreasing and (moved["change"] == moved["lists_b"] - moved["lists_a"]).all()


def test_runs_with_no_users_in_common_are_refused():
    a, train = _planted(20, 30)
    others = IdMap([f"other-{i}" for i in range(20)], "user")
    b, _ = _planted(20, 30, train=Ratings(train.user_idx, train.item_idx, train.rating, others, train.items))
    with pytest.raises(DataError, match="share no users"):
        diff_runs(a, b)


def test_the_settings_table_lists_only_what_differs():
    from cfcore.runs import RunInfo
    from ui.compare import settings_diff

    def run(run_id, **config):
        base = {"embedding_dim": 50, "learning_rate": 0.005, "optimizer": "sparse_adam"}
        return RunInfo(run_id, Path("."), True, record=legacy_record({**base, **config}, "MovieLens sample",
                                                                     split={"method": "random", "fraction": 0.1,
                                                                            "seed": 0}))

    frame = settings_diff([run("a"), run("b", embedding_dim=20), run("c", learning_rate=0.01)])
    assert frame["setting"].tolist() == ["embedding_dim", "learning_rate"]
    assert frame.set_index("setting").loc["embedding_dim"].tolist() == ["50", "20", "50"]
    assert settings_diff([run("a"), run("b")]).empty
