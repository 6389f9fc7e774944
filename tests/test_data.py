"""Loading ratings: every format, column spellings, overrides, and every validation error."""

from __future__ import annotations

import gzip
import io
import re

import numpy as np
import pandas as pd
import pytest

from cfcore.data.items import items_note, read_items
from cfcore.data.load import load_dataset
from cfcore.errors import DataError

ROWS = [(1, 10, 4.0, 100), (1, 20, 3.5, 101), (2, 10, 5.0, 102), (2, 30, 1.0, 103), (3, 20, 2.5, 104)]


def _csv(rows=ROWS, header="userId,movieId,rating,timestamp", sep=","):
    lines = ([header] if header else []) + [sep.join(str(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def _check_rows(dataset, n=len(ROWS)):
    r = dataset.ratings
    assert len(r) == n
    frame = r.to_frame().sort_values(["user_id", "item_id"]).reset_index(drop=True)
    expected = pd.DataFrame(ROWS[:n], columns=["user_id", "item_id", "rating", "timestamp"])
    expected = expected.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    assert frame["user_id"].tolist() == expected["user_id"].tolist()
    assert frame["item_id"].tolist() == expected["item_id"].tolist()
    assert np.allclose(frame["rating"], expected["rating"])


@pytest.mark.parametrize("name,data,fmt", [
    ("ratings.csv", _csv(), "csv"),
    ("u.data", _csv(header=None, sep="\t"), "tsv"),
    ("ratings.dat", _csv(header=None, sep="::"), "dat"),
    ("semi.txt", _csv(header="user;item;score;time", sep=";"), "text"),
    ("pipe.txt", _csv(header=None, sep="|"), "text"),
    ("spaces.txt", _csv(header=None, sep="  "), "text"),
])
def test_text_formats_detected_from_bytes(tmp_path, name, data, fmt):
    for compressed in (False, True):
        path = tmp_path / (name + (".gz" if compressed else ""))
        path.write_bytes(gzip.compress(data) if compressed else data)
        dataset = load_dataset(path)
        _check_rows(dataset)
        assert dataset.report.format.startswith(fmt)
        assert ("gzip" in dataset.report.format) == compressed
        assert dataset.ratings.timestamp is not None


def test_parquet_and_gzip_bytes_upload(tmp_path):
    frame = pd.DataFrame(ROWS, columns=["UserID", "ItemID", "Stars", "Time"])
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    dataset = load_dataset(buffer.getvalue(), name="upload.parquet")
    _check_rows(dataset)
    assert dataset.report.format == "parquet"
    assert dataset.report.columns == {"user": "UserID", "item": "ItemID", "rating": "Stars", "timestamp": "Time"}
    _check_rows(load_dataset(gzip.compress(_csv()), name="upload.csv.gz"))


@pytest.mark.parametrize("header", ["user,item,rating", "USER_ID,Item_Id,Score", "customer,product,stars", "u_id,movie,rate"])
def test_column_names_recognised_case_insensitively(tmp_path, header):
    path = tmp_path / "r.csv"
    path.write_bytes(_csv([r[:3] for r in ROWS], header=header))
    dataset = load_dataset(path)
    _check_rows(dataset)
    assert dataset.ratings.timestamp is None


def test_column_and_separator_overrides(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_bytes(_csv([(r[2], r[1], r[0]) for r in ROWS], header="a#b#c", sep="#"))
    with pytest.raises(DataError, match="separator"):
        load_dataset(path)
    dataset = load_dataset(path, sep="#", columns="c,b,a")
    _check_rows(dataset)
    dataset = load_dataset(path, sep="#", columns=["c", "b", "a"])
    assert dataset.report.columns == {"user": "c", "item": "b", "rating": "a"}
    with pytest.raises(DataError, match="no column 'zz'"):
        load_dataset(path, sep="#", columns="zz,b,a")


def test_string_ids_and_int_ids_are_kept_apart(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("user,item,rating\nalice,tt001,4\nbob,tt002,3\nalice,tt002,5\n  bob ,007,2\n")
    r = load_dataset(path).ratings
    assert not r.users.is_integer and list(r.users.index) == ["alice", "bob"]
    assert sorted(r.items.index) == ["007", "tt001", "tt002"]  # "007" keeps its leading zero
    assert r.users.idx("bob") == 1
    path.write_text("user,item,rating\n1,5,4\n2,6,3\n")
    r = load_dataset(path).ratings
    assert r.users.is_integer and r.users.idx("2") == 1 and r.users.idx(2) == 1


def test_scale_detected_and_reported(movielens):
    scale = movielens.ratings.scale
    assert (scale.min, scale.max, scale.step) == (0.5, 5.0, 0.5)
    assert "0.5 to 5 in steps of 0.5" in movielens.report.lines()[-1]


def test_movielens_builtin_matches_the_documented_sample(movielens):
    r = movielens.ratings
    assert (len(r), r.n_users, r.n_items) == (100_004, 671, 9_066)
    toy = movielens.catalog.set_index("item_id").loc[1]
    assert toy["title"] == "Toy Story" and toy["year"] == 1995 and "Animation" in toy["genres"]
    assert "GroupLens" in movielens.credit


def test_duplicates_keep_last_and_are_counted(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("user,item,rating\n1,1,1\n1,2,2\n1,1,5\n2,1,3\n1,1,4\n")
    dataset = load_dataset(path)
    frame = dataset.ratings.to_frame()
    assert len(frame) == 3
    assert frame[(frame.user_id == 1) & (frame.item_id == 1)].rating.tolist() == [4.0]
    assert dataset.report.n_duplicates == 2
    assert any("repeated" in line for line in dataset.report.lines())


def test_missing_ratings_are_dropped_and_reported_with_line(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("user,item,rating\n1,1,4\n1,2,\n2,1,NaN\n2,2,3\n")
    dataset = load_dataset(path)
    assert len(dataset.ratings) == 2
    assert dataset.report.dropped == {"no rating (first on line 3)": 2}


@pytest.mark.parametrize("content,pattern", [
    (b"", "is empty"),
    (b"   \n\n", "is empty"),
    (b"userId,movieId,rating,timestamp\n", "header .* but no rating rows"),
    (b"userId\n1\n2\n3\n", "only 1 column"),
    (b"userId,movieId,when\n1,2,3\n4,5,6\n", "no rating column among userId, movieId, when"),
    (b"user,item,rating\n1,1,4\n1,2,five\n", r"holds text: 'five' on line 3"),
    (b"user,item,rating\n1,1,4\n1,2,inf\n", "infinite value .* on line 3"),
    (b"1 2 3 4\n1 2 3\n", "separator"),
    (b"no separators in this file at all\njust words\n", "separator"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a PNG image"),
    (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
    (bytes(range(256)) * 4, "binary"),
    (gzip.compress(b"user,item,rating\n" + b"1,2,3\n" * 5000)[:60], "gzip data is damaged or cut short"),
])
def test_validation_errors_name_the_problem(tmp_path, content, pattern):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=pattern) as info:
        load_dataset(path)
    assert "bad.csv" in str(info.value)


def test_ratings_outside_declared_scale(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,1,4\n1,2,7\n")
    with pytest.raises(DataError, match=r"rating 7 on line 3 is outside the declared scale 1 to 5"):
        load_dataset(path, scale=(1, 5))
    assert load_dataset(path).ratings.scale.max == 7


def test_missing_file_and_unknown_builtin(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unknown built-in source"):
        load_dataset("builtin:nothing")


def test_bom_and_mixed_line_endings(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfuserId,movieId,rating\r\n1,10,4\n2,10,5\r\n3,20,2.5\n")
    dataset = load_dataset(path)
    assert len(dataset.ratings) == 3 and dataset.report.columns["user"] == "userId"


def test_movies_csv_metadata(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(_csv())
    movies = tmp_path / "movies.csv"
    movies.write_text('movieId,title,genres\n10,"Heat, The (1995)",Action|Crime\n20,Up (2009),Animation\n99,Other (2000),Drama\n')
    dataset = load_dataset(ratings, items=movies)
    cat = dataset.catalog.set_index("item_id")
    assert cat.loc[10, "title"] == "Heat, The" and cat.loc[10, "year"] == 1995 and cat.loc[10, "genres"] == "Action|Crime"
    assert cat.loc[30, "title"] == "30"  # no metadata: the id stands in
    assert any("1 metadata rows match no rated item" in w for w in dataset.report.warnings)
    assert items_note(dataset.report).startswith("item metadata movies.csv: titles for 2 of 3 items")
    assert items_note(load_dataset(ratings).report) is None


def test_u_item_and_movies_dat_metadata(tmp_path):
    flags = ["0"] * 19
    flags[1] = flags[5] = "1"  # Action, Comedy
    u_item = "|".join(["10", "Heat (1995)", "01-Jan-1995", "", "http://x"] + flags) + "\n"
    meta = read_items(u_item.encode("latin-1"), "u.item")
    assert meta.iloc[0].tolist()[:2] == ["10", "Heat"] and meta.iloc[0]["genres"] == "Action|Comedy"
    dat = "10::Am\xe9lie (2001)::Comedy|Romance\n".encode("latin-1")
    meta = read_items(dat, "movies.dat")
    assert meta.iloc[0]["title"] == "Amélie" and meta.iloc[0]["year"] == 2001


def test_metadata_matching_nothing_is_refused(tmp_path):
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(_csv())
    movies = tmp_path / "movies.csv"
    movies.write_text("movieId,title,genres\n555,Nothing (1990),Drama\n")
    with pytest.raises(DataError, match="none of its 1 item ids match"):
        load_dataset(ratings, items=movies)


def test_parquet_reads_only_the_mapped_columns_and_never_the_whole_file_into_bytes(tmp_path, monkeypatch):
    """A wide Parquet file (a review text column beside the ratings) gives up only user, item,
    rating and timestamp, and a path is read by pyarrow rather than into one bytes object first."""
    import pyarrow.parquet as pq

    from cfcore.data import raw as data_module

    frame = pd.DataFrame(ROWS, columns=["UserID", "ItemID", "Stars", "Time"])
    frame["review"] = ["a long review " * 50] * len(frame)
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    asked, whole_reads = [], []
    original_read = pq.ParquetFile.read
    monkeypatch.setattr(pq.ParquetFile, "read", lambda self, columns=None, **k: asked.append(columns)
                        or original_read(self, columns=columns, **k))
    original_bytes = data_module.read_bytes
    monkeypatch.setattr(data_module, "read_bytes", lambda source, label, limit=None: whole_reads.append(limit)
                        or original_bytes(source, label, limit) if limit is None else original_bytes(source, label, limit))
    dataset = load_dataset(path)
    _check_rows(dataset)
    assert asked == [["UserID", "ItemID", "Stars", "Time"]]
    assert whole_reads == []
    assert "review" in dataset.report.available_columns  # still listed for the column picker


def _zip(files: dict[str, bytes], compression=None) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression or zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


MOVIES_CSV = b'movieId,title,genres\n10,"Heat (1995)",Action|Crime\n20,Up (2009),Animation\n30,Alien (1979),Horror\n'


def test_grouplens_zip_loads_ratings_and_titles_from_one_upload(tmp_path):
    """ml-latest-small.zip's layout: a folder with ratings.csv, movies.csv, links.csv, tags.csv, README."""
    ratings = b"userId,movieId,rating,timestamp\n" + b"".join(
        f"{u},{i},{(u + i) % 5 + 1},{964982703 + u}\n".encode() for u in range(1, 9) for i in (10, 20, 30))
    archive = _zip({"ml-latest-small/README.txt": b"Summary\n", "ml-latest-small/links.csv": b"movieId,imdbId\n10,1\n",
                    "ml-latest-small/tags.csv": b"userId,movieId,tag,timestamp\n1,10,fun,1\n",
                    "ml-latest-small/movies.csv": MOVIES_CSV, "ml-latest-small/ratings.csv": ratings,
                    "__MACOSX/ml-latest-small/._ratings.csv": b"\x00\x05junk"})
    for source, name in ((archive, "ml-latest-small.zip"), (tmp_path / "ml-latest-small.zip", None)):
        if name is None:
            source.write_bytes(archive)
        dataset = load_dataset(source, name=name)
        assert dataset.name == "ml-latest-small.zip"
        assert len(dataset.ratings) == 24 and dataset.ratings.n_users == 8
        titles = dict(zip(dataset.catalog["item_id"], dataset.catalog["title"]))
        assert titles == {10: "Heat", 20: "Up", 30: "Alien"}
        assert set(dataset.catalog["year"]) == {1995, 2009, 1979}


def test_zip_with_one_ratings_file_of_any_name_and_ml100k_layout():
    one = _zip({"my export.tsv": _csv([r[:3] for r in ROWS], header="user,item,rating").replace(b",", b"\t")})
    _check_rows(load_dataset(one, name="export.zip"))
    u_data = b"".join(f"{u}\t{i}\t{(u * i) % 5 + 1}\t88125{u}{i}\n".encode() for u in range(1, 6) for i in range(1, 4))
    u_item = b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n" + b"".join(
        f"{i}|Film {i} (1990)|01-Jan-1990||http://x|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n".encode() for i in (2, 3))
    ml100k = _zip({"ml-100k/u.data": u_data, "ml-100k/u.item": u_item, "ml-100k/u1.base": u_data,
                   "ml-100k/u.user": b"1|24|M|technician|85711\n", "ml-100k/README": b"readme"})
    dataset = load_dataset(ml100k, name="ml-100k.zip")
    assert len(dataset.ratings) == 15
    assert dict(zip(dataset.catalog["item_id"], dataset.catalog["title"]))[1] == "Toy Story"


@pytest.mark.parametrize("files, message", [
    ({f"part{i}.csv": b"u,i,r\n1,2,3\n" for i in range(250)}, "holds 250 files"),
    ({"a.csv": b"user,item,rating\n1,2,3\n", "b.csv": b"user,item,rating\n1,2,3\n"}, "holds 2 data files"),
    ({"[Content_Types].xml": b"<xml/>", "xl/workbook.xml": b"<xml/>"}, "holds no ratings file"),
    ({"x/ratings.csv": b"user,item,rating\n1,2,3\n", "y/ratings.csv": b"user,item,rating\n1,2,3\n"},
     "2 files named ratings.csv"),
])
def test_zip_archives_that_are_not_one_dataset_are_refused_clearly(files, message):
    with pytest.raises(DataError, match=re.escape(message)):
        load_dataset(_zip(files), name="upload.zip")


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(monkeypatch):
    from cfcore.data import archive

    monkeypatch.setattr(archive, "RATIO_CHECKED_ABOVE", 1 << 20)  # a 100 MiB member keeps the test quick
    bomb = _zip({"ratings.csv": b"1,2,3\n" + b"0" * (100 << 20)})
    assert len(bomb) < (1 << 20)
    unpacked = []
    monkeypatch.setattr(archive, "_read", lambda *a: unpacked.append(a) or b"")
    with pytest.raises(DataError, match="zip bomb"):
        load_dataset(bomb, name="bomb.zip")
    assert unpacked == []
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 50 << 20)
    with pytest.raises(DataError, match="would unpack to"):
        load_dataset(bomb, name="bomb.zip")


def test_ids_and_timestamps_past_int64_are_kept_as_text_and_read_as_missing_not_wrapped():
    """A user id of 20 digits is a name, not a number to wrap around (the CSV parser reads that column as
    floats, so it keeps the float's digits); a timestamp of 1e300 seconds is no date."""
    import warnings

    csv = (b"userId,movieId,rating,timestamp\n"
           b"99999999999999999999,10,4.0,1e300\n"
           b"1,10,3.0,964982703\n"
           b"1,11,5.0,964982224\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the casts used to warn "invalid value encountered in cast"
        dataset = load_dataset(csv, name="big.csv")
    ratings = dataset.ratings
    assert sorted(ratings.users.index) == ["1", "100000000000000000000"]
    assert ratings.users.index[ratings.user_idx[0]] == "100000000000000000000"
    assert ratings.timestamp[0] == np.iinfo(np.int64).min  # missing
    assert list(ratings.timestamp[1:]) == [964982703, 964982224]
