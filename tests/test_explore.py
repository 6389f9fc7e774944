"""Engine pieces behind the Recommend and Embeddings pages, with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfcore.export import frame_to_csv, metadata_tsv, projector_tsv
from cfcore.projection import axis_extremes, main_genre, project
from tests.test_recommender import _planted


def test_bias_extremes_order_and_filter():
    rec, train = _planted()
    liked, disliked = rec.bias_extremes(n=3, min_ratings=1)
    rated = np.flatnonzero(rec.catalog.frame["n_ratings"].to_numpy() >= 1)
    order = rated[np.argsort(-rec.item_bias_[rated])]
    assert liked["item_id"].tolist() == rec.items.to_id(order[:3]).tolist()
    assert disliked["item_id"].tolist() == rec.items.to_id(order[::-1][:3]).tolist()
    assert liked["bias"].is_monotonic_decreasing and disliked["bias"].is_monotonic_increasing
    liked, _ = rec.bias_extremes(n=10, min_ratings=20)  # item 105 (rated by 29 users) is the only one
    assert liked["item_id"].tolist() == [105]


def test_user_table_counts_and_means():
    rec, _ = _planted()
    users = rec.user_table()
    assert users.loc[0, "n_ratings"] == 5 and users.loc[0, "mean_rating"] == pytest.approx(3.0)
    assert (users.loc[1:, "n_ratings"] == 1).all() and (users.loc[1:, "mean_rating"] == 3).all()
    assert np.allclose(users["bias"], rec.user_bias_)


def test_axis_extremes_and_main_genre():
    frame = pd.DataFrame({"title": list("abcdef"), "pc1": [3, -1, 0, 5, -4, 2]})
    low, high = axis_extremes(frame, "pc1", 2)
    assert low["title"].tolist() == ["e", "b"] and high["title"].tolist() == ["d", "a"]
    assert main_genre(pd.Series(["Drama|War", "", None])).tolist() == ["Drama", "(none)", "(none)"]


def test_exports_write_years_and_counts_as_integers():
    """Years arrive as floats (a missing one is NaN); a file must say 1995, not 1995.0, and leave a gap when
    it is missing; a column with fractions keeps them."""
    frame = pd.DataFrame({"title": ["A", "B"], "year": [1995.0, np.nan], "n_ratings": [3.0, 12.0],
                          "similarity": [0.5, 1.0]})
    assert frame_to_csv(frame).decode().splitlines() == ["title,year,n_ratings,similarity", "A,1995,3,0.5",
                                                         "B,,12,1.0"]
    assert metadata_tsv(frame[["title", "year"]]).decode().splitlines() == ["title\tyear", "A\t1995", "B\t"]
    odd = pd.DataFrame({"year": [1995.5, 2000.0]})  # not whole numbers: left as they are
    assert frame_to_csv(odd).decode().splitlines() == ["year", "1995.5", "2000.0"]


def test_projector_tsv_round_trip():
    vectors = np.array([[1.5, -2.0], [0.25, 3.0]])
    meta = pd.DataFrame({"title": ["Tab\there", "New\nline"], "year": [1999, 2001]})
    vec_tsv, meta_tsv = projector_tsv(vectors, meta)
    assert np.allclose(np.loadtxt(vec_tsv.decode().splitlines(), delimiter="\t"), vectors)
    lines = meta_tsv.decode().splitlines()
    assert lines == ["title\tyear", "Tab here\t1999", "New line\t2001"]
    single = projector_tsv(vectors, meta[["title"]])[1].decode().splitlines()
    assert single == ["Tab here", "New line"]  # one column: no header, as the Projector expects
    with pytest.raises(ValueError, match="2 vectors but 1 metadata rows"):
        projector_tsv(vectors, meta.head(1))


def test_new_user_lands_near_what_they_rated():
    rec, _ = _planted(n_items=200, dim=6)
    proj = project(rec.item_factors_, 2)
    liked = [rec.items.to_id([i])[0] for i in (0, 1)]  # item 1 is a scaled copy of item 0
    vec, _ = rec.fold_in([(liked[0], 5.0), (liked[1], 5.0)], reg=0.1)
    user_xy = proj.transform(vec[None, :])[0]
    item_xy = proj.coords[0]
    assert np.dot(user_xy, item_xy) > 0  # the user's point leans toward the movies they loved
