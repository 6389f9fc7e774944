"""Reading a ratings file whose columns detection cannot tell apart: the preview, the doubt, and an explicit mapping."""

from __future__ import annotations

import pytest

from cfcore.data.load import load_dataset, load_test_file
from cfcore.data.preview import preview_ratings
from cfcore.errors import ColumnsNotFound, DataError

FILMS = b"person,film,grade,when\n" + b"".join(
    f"p{u},f{i},{(u + i) % 5 + 1},2020-01-{u + 1:02d}\n".encode() for u in range(6) for i in range(4))


def test_a_file_without_recognisable_user_and_item_columns_says_which_are_missing_and_what_the_file_has():
    with pytest.raises(ColumnsNotFound) as caught:
        load_dataset(FILMS, name="films.csv")
    assert caught.value.missing == ["user", "item"]
    assert caught.value.available == ["person", "film", "grade", "when"]
    assert caught.value.found == {"rating": "grade"}


def test_the_preview_of_such_a_file_shows_its_first_rows_as_read_and_a_full_mapping_to_start_from():
    preview = preview_ratings(FILMS, name="films.csv", n_rows=3)
    assert preview.failed and preview.missing == ["user", "item"]
    assert preview.rows.shape == (3, 4) and list(preview.rows["person"]) == ["p0", "p0", "p0"]
    assert preview.guess() == {"rating": "grade", "user": "person", "item": "film"}


def test_reading_with_the_chosen_mapping_after_detection_failed_gives_the_ratings_and_their_dates():
    dataset = load_dataset(FILMS, name="films.csv", columns=["person", "film", "grade", "when"])
    assert (len(dataset.ratings), dataset.ratings.n_users, dataset.ratings.n_items) == (24, 6, 4)
    assert dataset.report.columns == {"user": "person", "item": "film", "rating": "grade", "timestamp": "when"}
    assert dataset.ratings.timestamp.min() == 1577836800  # 2020-01-01 00:00 UTC


def test_a_mapping_whose_rating_column_holds_text_names_the_value_and_its_line():
    with pytest.raises(DataError, match=r"rating column 'when' holds text: '2020-01-01' on line 2"):
        load_dataset(FILMS, name="films.csv", columns=["person", "film", "when"])


def test_two_columns_of_small_numbers_without_a_header_make_the_detection_unsure():
    preview = preview_ratings(b"1,10,4,3\n2,11,5,1\n3,12,2,2\n", name="plain.csv")
    assert not preview.failed
    assert preview.detected["rating"] == "column 3"
    assert "'column 3' and 'column 4' both hold small numbers" in preview.doubt


def test_a_timestamp_beside_the_rating_leaves_the_detection_sure():
    assert preview_ratings(b"1,10,4,978300760\n2,11,5,978300761\n", name="u.data").doubt == ""
    assert preview_ratings(b"userId,movieId,rating,timestamp\n1,10,4,9\n", name="r.csv").doubt == ""


def test_two_columns_named_like_a_rating_make_the_detection_unsure():
    preview = preview_ratings(b"user,item,score,rating\n1,10,4,3\n2,11,5,1\n", name="two.csv")
    assert preview.detected["rating"] == "rating"
    assert "'score' and 'rating' are both named like a rating" in preview.doubt


def test_a_test_file_is_read_with_the_training_files_mapping_even_where_detection_would_fail():
    train = load_dataset(FILMS, name="films.csv", columns=["person", "film", "grade", "when"])
    test = load_test_file(b"person,film,grade,when\np0,f9,2,2020-02-01\np7,f1,5,2020-02-02\n", name="test.csv",
                          like=train.report)
    assert test.report.columns == train.report.columns
    assert list(test.ratings.to_frame()["rating"]) == [2.0, 5.0]
    untimed = load_test_file(b"person,film,grade\np0,f9,2\n", name="test.csv", like=train.report)
    assert untimed.report.columns == {"user": "person", "item": "film", "rating": "grade"}


def test_a_test_file_with_other_column_names_is_read_by_detection():
    train = load_dataset(b"1\t10\t4\t978300760\n2\t11\t5\t978300761\n", name="u.data")
    test = load_test_file(b"userId,movieId,rating\n1,11,3\n", name="test.csv", like=train.report)
    assert (len(test.ratings), test.report.columns["rating"]) == (1, "rating")


def test_a_test_file_neither_way_can_read_names_both_files_columns():
    train = load_dataset(FILMS, name="films.csv", columns=["person", "film", "grade"])
    with pytest.raises(DataError, match=r"test.csv: its columns \(a, b, grade\) are not the training data's "
                                        r"\(person, film, grade\), and no user or item column could be recognised"):
        load_test_file(b"a,b,grade\nx,y,3\n", name="test.csv", like=train.report)
