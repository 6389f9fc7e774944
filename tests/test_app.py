"""The dashboard frame renders on a fresh session (AppTest, in process)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def test_data_page_shows_builtin_movielens():
    at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=60).run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Ratings"] == "100,004" and values["Users"] == "671" and values["Movies"] == "9,066"
    assert any("GroupLens" in c.value for c in at.caption)


def test_app_frame_runs():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
