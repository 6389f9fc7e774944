"""Hostile and broken inputs from tests/corpus/: through the engine, the CLI and the Data page.

Each file either is refused with a message naming the problem, or loads with what was wrong
reported; never a traceback, and the previously active dataset stays active in the dashboard.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from cfcore.data.load import load_dataset
from cfcore.errors import CFError, DataError
from ui import state

ROOT = Path(__file__).resolve().parents[1]


def plain(markdown: str) -> str:
    """Markdown as a reader sees it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)
CORPUS = ROOT / "tests" / "corpus"

# file -> (refused?, what the message or the report says)
CASES = {
    "empty.csv": (True, "is empty"),
    "header_only.csv": (True, "has a header (userId, movieId, rating, timestamp) but no rating rows"),
    "one_column.csv": (True, "has only 1 column"),
    "wrong_separator.csv": (True, "its fields look separated by '#': pass that separator"),
    "missing_rating_column.csv": (True, "no rating column among userId, movieId, timestamp"),
    "ratings_as_words.csv": (True, "holds text: 'great' on line 3"),
    "nan_ratings.csv": (False, "dropped 2 rows: no rating (first on line 3)"),
    "all_nan_ratings.csv": (True, "no usable rows"),
    "infinite_ratings.csv": (True, "infinite value 'inf' on line 3"),
    "negative_ratings.csv": (False, "ratings include negative values (lowest -3)"),
    "odd_ids.csv": (False, "rows read: 4"),
    "single_user.csv": (False, "only one user"),
    "single_item.csv": (False, "only one item"),
    "all_equal.csv": (False, "every rating is 3"),
    "two_rows.csv": (False, "rows read: 2"),
    "duplicated_pairs.csv": (False, "1 repeated (user, item) pairs: kept the last rating of each"),
    "image.png.csv": (True, "looks like a PNG image"),
    "archive.zip.csv": (False, "from the ZIP archive's ratings.csv"),  # a ZIP holding one ratings file loads
    "spreadsheet.xlsx.csv": (True, "an Excel workbook is a ZIP too: save it as CSV"),
    "random_bytes.csv": (True, "binary"),
    "truncated.csv.gz": (True, "gzip data is damaged or cut short"),
    "bom_mixed_line_endings.csv": (False, "rows read: 4"),
}


def report_text(dataset) -> str:
    return " · ".join(dataset.report.lines())


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine(name):
    refused, text = CASES[name]
    path = CORPUS / name
    if refused:
        with pytest.raises(DataError) as info:
            load_dataset(path)
        assert text in str(info.value) and name in str(info.value)
    else:
        assert text in report_text(load_dataset(path))


def test_engine_declared_scale_and_unmatched_metadata():
    with pytest.raises(DataError, match="rating 7 on line 3 is outside the declared scale 1 to 5"):
        load_dataset(CORPUS / "out_of_scale.csv", scale=(1, 5))
    with pytest.raises(DataError, match="none of its 2 item ids match the ratings' item ids"):
        load_dataset(CORPUS / "ratings_for_metadata.csv", items=CORPUS / "metadata_matching_nothing.csv")


def test_odd_ids_survive_intact():
    ratings = load_dataset(CORPUS / "odd_ids.csv").ratings
    assert set(ratings.users.index) == {"Jane Doe", "用户 2", "x" * 5000}
    assert set(ratings.items.index) == {"Crème brûlée", "电影", "long item"}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "cfcore", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli(name, tmp_path):
    refused, text = CASES[name]
    result = cli("train", "--data", str(CORPUS / name), "--epochs", "2", "--dim", "4", "--quiet",
                 "--metrics-json", str(tmp_path / "m.json"))
    assert "Traceback" not in result.stderr
    if refused:
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0]
    else:  # loads; training either works or says in one line why it cannot (e.g. too few ratings)
        assert result.returncode in (0, 2), result.stderr
        if result.returncode == 2:
            assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_cli_scale_and_metadata():
    result = cli("train", "--data", str(CORPUS / "out_of_scale.csv"), "--scale", "1,5")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "outside the declared scale" in result.stderr
    result = cli("train", "--data", str(CORPUS / "ratings_for_metadata.csv"), "--items",
                 str(CORPUS / "metadata_matching_nothing.csv"))
    assert result.returncode == 2 and "none of its 2 item ids match" in result.stderr
    result = cli("train", "--scale", "5,1")
    assert result.returncode == 2 and "MIN < MAX" in result.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_data_page(name, tmp_path):
    refused, text = CASES[name]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.run()
    at.switch_page("views/data.py").run()  # the app opens on Home
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value((name, (CORPUS / name).read_bytes(), "text/csv")).run()
    assert not at.exception
    if refused:
        assert any(text in plain(e.value) for e in at.error), [plain(e.value) for e in at.error]
        assert any("The active dataset is still" in plain(c.value) for c in at.caption)
    else:
        assert not at.error
        at.button(key="data_use_upload").click().run()
        assert not at.exception
        assert at.session_state[state.DATASET].name == name
    if refused:
        assert at.session_state[state.DATASET].name == "MovieLens sample"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_load_or_raise_our_error(data):
    try:
        load_dataset(data, name="fuzz.csv")
    except CFError:
        pass


CSV_CELL = st.one_of(st.integers(-5, 10).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                     st.text(max_size=6), st.sampled_from(["", "NaN", "1e309", "\"", "userId", "rating", "::"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CSV_CELL, min_size=1, max_size=5), min_size=0, max_size=12),
       st.sampled_from([",", "\t", ";", "|", "::", " "]), st.booleans())
def test_csv_like_text_loads_or_raises_our_error(rows, sep, header):
    lines = (["userId,movieId,rating,timestamp".replace(",", sep)] if header else []) + [sep.join(r) for r in rows]
    try:
        dataset = load_dataset("\n".join(lines).encode("utf-8", "surrogatepass"), name="fuzz.csv")
    except CFError:
        return
    ratings = dataset.ratings
    assert len(ratings) > 0 and len(ratings.users) > 0 and len(ratings.items) > 0
