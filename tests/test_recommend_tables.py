"""The Recommend page's tables at presenter width and its download of everyone's top-k (AppTest and plain calls)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from cfcore.export import all_users_top_k_csv
from ui import state

ROOT = Path(__file__).resolve().parents[1]


def recommend_page(tmp_path: Path, rec) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.ACTIVE_MODEL] = state.ActiveModel(rec, None, "test model")
    at.run()
    return at.switch_page("views/recommend.py").run()


def test_everyones_top_k_csv_has_one_row_per_user_and_rank_and_each_users_own_list(saved_model):
    frame = pd.read_csv(io.BytesIO(all_users_top_k_csv(saved_model, 3)))
    assert frame.columns.tolist()[:4] == ["user_id", "rank", "item_id", "score"]
    assert len(frame) == 3 * saved_model.n_users and frame["user_id"].nunique() == saved_model.n_users
    assert frame["rank"].tolist()[:6] == [1, 2, 3, 1, 2, 3]
    first = frame["user_id"].iloc[0]
    assert frame["item_id"].iloc[:3].tolist() == saved_model.recommend(first, 3)["item_id"].tolist()


def test_the_recommend_page_offers_everyones_top_k_and_pins_title_and_stars(tmp_path, saved_model):
    at = recommend_page(tmp_path, saved_model)
    assert not at.exception
    (button,) = [b for b in at.get("download_button") if b.proto.label.startswith("Download top-")]
    assert button.proto.label == "Download top-10 for all users (CSV)"
    recs = next(d for d in at.dataframe if "predicted_rating" in d.value.columns)
    config = json.loads(recs.proto.columns)
    assert config["title"]["pinned"] and config["predicted_rating"]["pinned"]
    assert config["predicted_rating"]["type_config"]["format"] == "%.1f"
