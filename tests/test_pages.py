"""Every dashboard page through AppTest: fresh sessions render, bad input shows an error and loses nothing."""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cfcore import checkpoint
from cfcore.config import TrainConfig
from cfcore.runs import list_runs, load_run, save_run
from cfcore.split import SplitSettings, split
from ui import state

ROOT = Path(__file__).resolve().parents[1]


def plain(markdown: str) -> str:
    """Markdown as a reader sees it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)
PAGES = ["views/data.py", "views/train.py", "views/runs.py", "views/recommend.py", "views/embeddings.py"]
U_DATA = b"".join(f"{u}\t{i}\t{(u * i) % 5 + 1}\t{880000000 + u * 100 + i}\n".encode()
                  for u in range(1, 41) for i in range(1, 31) if (u + i) % 3)


def app(runs_dir: Path) -> AppTest:
    """A fresh session on the Data page (the app opens on Home)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(runs_dir)
    at.run()
    return at.switch_page("views/data.py").run()


def sidebar_text(at: AppTest) -> str:
    def walk(node):
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            return " ".join(walk(child) for child in children.values())
        return str(getattr(node, "value", ""))

    return walk(at.sidebar)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_fresh_session(tmp_path, page):
    at = app(tmp_path)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title[0].value == Path(page).stem.capitalize()
    assert at.session_state[state.DATASET].name == "MovieLens sample"


def test_sidebar_shows_dataset_and_model(tmp_path):
    at = fresh_session(tmp_path)  # AppTest shows the sidebar on runs without a page switch
    assert "MovieLens sample · 100,004 ratings" in sidebar_text(at)
    assert "none yet" in sidebar_text(at)


def test_bad_upload_shows_error_and_keeps_dataset(tmp_path):
    at = app(tmp_path)
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("ratings.csv", b"user,item,rating\n1,2,great\n", "text/csv")).run()
    assert not at.exception
    assert any("holds text: 'great' on line 2" in plain(e.value) for e in at.error)
    assert at.session_state[state.DATASET].name == "MovieLens sample"
    at.file_uploader(key="data_upload").set_value(("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "text/csv")).run()
    assert any("looks like a PNG image" in plain(e.value) for e in at.error)
    assert at.session_state[state.DATASET].name == "MovieLens sample"


def test_uploaded_u_data_becomes_active(tmp_path):
    at = app(tmp_path)
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("u.data", U_DATA, "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert any("tsv (tab-separated, no header)" in s.value for s in at.success)
    at.button(key="data_use_upload").click().run()
    n = U_DATA.count(b"\n")
    active = at.session_state[state.DATASET]
    assert (active.name, len(active.ratings), active.ratings.n_users, active.ratings.n_items) == ("u.data", n, 40, 30)
    assert any(m.value == f"{n:,}" for m in at.metric)


def test_a_grouplens_zip_upload_brings_its_titles(tmp_path):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-latest-small/ratings.csv", b"userId,movieId,rating,timestamp\n" + b"".join(
            f"{u},{i},{(u + i) % 5 + 1},96498270{u}\n".encode() for u in range(1, 9) for i in (1, 2, 3)))
        archive.writestr("ml-latest-small/movies.csv", b"movieId,title,genres\n1,Heat (1995),Action\n"
                                                       b"2,Up (2009),Animation\n3,Alien (1979),Horror\n")
        archive.writestr("ml-latest-small/README.txt", b"Summary\n")
    at = app(tmp_path)
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("ml-latest-small.zip", buffer.getvalue(), "application/zip")).run()
    assert not at.exception and not at.error
    assert any("from the ZIP archive's ratings.csv" in s.value for s in at.success)
    at.button(key="data_use_upload").click().run()
    active = at.session_state[state.DATASET]
    assert (active.name, len(active.ratings)) == ("ml-latest-small.zip", 24)
    assert sorted(active.catalog["title"]) == ["Alien", "Heat", "Up"]


def test_synthetic_source(tmp_path):
    at = app(tmp_path)
    at.radio(key="data_source").set_value("synthetic").run()
    at.select_slider(key="data_synth_n").set_value(10_000).run()
    at.button(key="data_use_synth").click().run()
    assert not at.exception
    assert len(at.session_state[state.DATASET].ratings) == 10_000


def test_train_page_trains_and_activates_model(tmp_path):
    at = app(tmp_path)
    at.switch_page("views/train.py").run()
    assert any("parameters" in m.value.lower() or "Parameters" in m.value for m in at.markdown)
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    job = at.session_state[state.JOB]
    job.join(timeout=120)
    assert not job.running and job.state.status == "done", job.state.message
    at.run()  # the page absorbs the finished job
    at.run()
    assert not at.exception
    labels = {m.label for m in at.metric}
    assert {"Validation RMSE", "Validation MAE", "Best epoch"} <= labels
    assert at.session_state[state.ACTIVE_MODEL].recommender is job.state.result
    assert len(list_runs(tmp_path)) == 1
    assert "dim 50" in at.session_state[state.ACTIVE_MODEL].label
    # where the model errs: by user activity and movie popularity, from the run's own metrics
    rows = job.state.result.record.buckets
    assert {r.side for r in rows} == {"users", "movies"}
    spec = next(p.proto.spec for p in at.get("plotly_chart") if "By user activity" in p.proto.spec)
    assert all(r.bucket in spec for r in rows)
    assert list_runs(tmp_path)[0].record.buckets == rows  # kept with the run for the Runs page
    assert "tuned factor model lists" in at.session_state[state.ACTIVE_MODEL].label
    # the ladder: the model's lists beside most popular, EASE and the rating model, same split
    ladder = job.state.result.record.ladder
    assert set(ladder) == {"popularity", "mf", "ease", "tuned"} and ladder["ease"].ndcg > ladder["popularity"].ndcg
    table = next(d.value for d in at.dataframe if "NDCG@10" in d.value.columns)
    assert "tuned factor model ★" in table["ranking"].tolist()  # this model's row
    assert table["NDCG@10"].tolist() == sorted((m.ndcg for m in ladder.values()), reverse=True)
    assert any("Ranking ladder" in p.proto.spec for p in at.get("plotly_chart"))
    assert list_runs(tmp_path)[0].record.ladder["ease"].ndcg == pytest.approx(ladder["ease"].ndcg)


def test_seed_preset_fills_the_form(tmp_path):
    at = app(tmp_path)
    at.switch_page("views/train.py").run()
    at.selectbox(key="train_preset").set_value("seed").run()
    assert at.number_input(key="train_epochs").value == 10
    assert at.select_slider(key="train_learning_rate").value == 0.001
    assert at.selectbox(key="train_optimizer").value == "adam"


def test_the_preset_box_says_custom_once_a_value_changes(tmp_path):
    """It said "Recommended (CF Studio defaults)" above values that were no longer the defaults."""
    at = app(tmp_path)
    at.switch_page("views/train.py").run()
    assert at.selectbox(key="train_preset").value == "recommended"
    at.number_input(key="train_epochs").set_value(12).run()
    assert at.selectbox(key="train_preset").value == "custom"
    assert "Custom (your own values)" in at.selectbox(key="train_preset").options
    at.number_input(key="train_epochs").set_value(30).run()  # back to the defaults: the preset's name again
    assert at.selectbox(key="train_preset").value == "recommended"
    at.selectbox(key="train_preset").set_value("seed").run()
    assert at.selectbox(key="train_preset").value == "seed" and at.number_input(key="train_epochs").value == 10
    at.select_slider(key="train_learning_rate").set_value(0.002).run()
    assert at.selectbox(key="train_preset").value == "custom"
    assert at.number_input(key="train_epochs").value == 10  # Custom keeps every value as it was


def test_the_forms_bounds_are_the_configs_limits(tmp_path):
    """One table (config.LIMITS) bounds both: the form offered epochs up to 1,000 and patience up to
    100 while TrainConfig accepted 10,000."""
    from cfcore.config import LIMITS

    at = app(tmp_path)
    at.switch_page("views/train.py").run()
    for name in ("embedding_dim", "epochs", "weight_decay", "dropout", "grad_clip", "lr_factor", "lr_patience",
                 "early_stopping", "seed"):
        widget = at.number_input(key=f"train_{name}")
        assert (widget.min, widget.max) == (LIMITS[name][0], LIMITS[name][1]), name
    from cfcore.rankers.choice import TunedParams  # the default ranking kind's own settings: its Params' limits

    for setting in TunedParams.settings():
        widget = at.number_input(key=f"train_tuned_{setting.name}")
        assert (widget.min, widget.max) == (setting.low, setting.high), setting.name


def test_embedding_dropout_flows_from_the_form_to_the_saved_run(tmp_path):
    at = app(tmp_path)
    at.switch_page("views/train.py").run()
    assert at.number_input(key="train_dropout").value == 0.0  # off by default
    at.number_input(key="train_dropout").set_value(0.3).run()
    at.number_input(key="train_epochs").set_value(1).run()
    assert not at.exception and not at.error
    at.button(key="train_start").click().run()
    job = at.session_state[state.JOB]
    job.join(timeout=120)
    assert job.state.status == "done", job.state.message
    assert job.state.result.record.config.dropout == 0.3
    saved = load_run(tmp_path, list_runs(tmp_path)[0].run_id)  # through the checkpoint on disk
    assert saved.record.config.dropout == 0.3


def test_runs_page_lists_runs_and_flags_unreadable(tmp_path, saved_model):
    save_run(tmp_path, saved_model)
    save_run(tmp_path, saved_model)
    broken = tmp_path / "20200101-000000-broken"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    at = app(tmp_path)
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert any("2 runs" in plain(c.value) for c in at.caption)
    runs_table = at.dataframe[0].value
    assert {"lists by", "NDCG@10", "P@10", "R@10", "coverage", "popularity NDCG@10"} <= set(runs_table.columns)
    assert (runs_table["lists by"] == "tuned factor model").all()
    assert any("20200101-000000-broken" in plain(w.value) and "unreadable" in plain(w.value) for w in at.warning)


def test_runs_page_checkpoint_upload(tmp_path, saved_model):
    at = app(tmp_path)
    at.switch_page("views/runs.py").run()
    at.file_uploader(key="runs_upload").set_value(("evil.pt", b"\x80\x04not a checkpoint", "application/octet-stream")).run()
    at.button(key="runs_load_upload").click().run()
    assert any("not a CF Studio checkpoint" in plain(e.value) for e in at.error)
    assert state.ACTIVE_MODEL not in at.session_state
    at.file_uploader(key="runs_upload").set_value(("good.pt", checkpoint.to_bytes(saved_model), "application/octet-stream")).run()
    at.button(key="runs_load_upload").click().run()
    assert not at.exception
    assert at.session_state[state.ACTIVE_MODEL].recommender.n_items == saved_model.n_items
    assert [r.record.source for r in list_runs(tmp_path)] == ["uploaded good.pt"]


def test_sweep_runs_the_grid(tmp_path):
    at = app(tmp_path)
    at.switch_page("views/data.py").run()
    at.radio(key="data_source").set_value("synthetic").run()
    at.select_slider(key="data_synth_n").set_value(10_000).run()
    at.button(key="data_use_synth").click().run()
    at.switch_page("views/runs.py").run()
    at.multiselect(key="sweep_dims").set_value([4, 8]).run()
    at.multiselect(key="sweep_lrs").set_value([0.01]).run()
    at.button(key="sweep_start").click().run()
    sweep = at.session_state[state.SWEEP]
    deadline = time.time() + 120
    while sweep.running and time.time() < deadline:
        sweep.heartbeat()
        time.sleep(0.2)
    assert sweep.status == "done" and len(sweep.results) == 2
    assert all(r.val_rmse is not None for r in sweep.results)
    at.run()
    assert not at.exception
    assert any("Best so far" in s.value for s in at.success)
    assert len(list_runs(tmp_path)) == 2
    assert at.session_state[state.SWEEP_ABSORBED]  # the page reran once when it ended
    # a second sweep in the same session ends the same way (the flag used to stay set for good)
    at.button(key="sweep_start").click().run()
    second = at.session_state[state.SWEEP]
    assert second is not sweep and state.SWEEP_ABSORBED not in at.session_state
    deadline = time.time() + 120
    while second.running and time.time() < deadline:
        second.heartbeat()
        time.sleep(0.2)
    at.run()
    assert not at.exception and at.session_state[state.SWEEP_ABSORBED] and len(list_runs(tmp_path)) == 4


def with_model(tmp_path, rec, val=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.ACTIVE_MODEL] = state.ActiveModel(rec, None, "test model", val)
    return at.run()


def test_recommend_page_for_user_new_user_and_quality(tmp_path, saved_model, small_synthetic):
    val = split(small_synthetic.dataset.ratings, "random", 0.1, seed=0).val
    at = with_model(tmp_path, saved_model, val)
    at.switch_page("views/recommend.py").run()
    assert not at.exception and not at.error
    frames = at.dataframe
    assert len(frames) >= 2  # favourites beside recommendations
    assert any(p.proto.spec and "waterfall" in p.proto.spec for p in at.get("plotly_chart"))
    # cold start: nothing rated yet
    assert any("not rated anything yet" in i.value for i in at.info)
    items = saved_model.catalog.frame.sort_values("n_ratings", ascending=False).index[:3].tolist()
    at.multiselect(key="new_movies").set_value(items).run()
    at.slider(key=f"new_rating_{items[0]}").set_value(float(saved_model.scale.min)).run()  # one disliked movie
    assert not at.exception
    assert any("Recommended for you" in m.value for m in at.markdown)
    # the new-user map: rated movies coloured by the rating given, every recommendation drawn and numbered
    spec = json.loads(next(p.proto.spec for p in at.get("plotly_chart") if "recommended (list number)" in p.proto.spec))
    traces = {t["name"]: t for t in spec["data"]}
    given = [at.slider(key=f"new_rating_{i}").value for i in items]
    assert traces["rated by you"]["marker"]["color"] == given and given[0] == saved_model.scale.min
    shown = traces["recommended (list number)"]
    k_new = at.slider(key="new_k").value
    assert shown["text"] == [str(n) for n in range(k_new, 0, -1)] and len(shown["x"]) == k_new  # 1 drawn on top
    assert "text" not in traces["rated by you"]  # titles are hover text: labels collided with markers
    assert any(m.label.startswith("Precision@") for m in at.metric)
    assert any("Ranking ladder" in p.proto.spec for p in at.get("plotly_chart"))
    assert any("ordered by tuned factor model" in plain(c.value) for c in at.caption)


def test_recommend_page_leaves_out_held_out_ratings(tmp_path, saved_model):
    # the user with the most held-out ratings: none of them may appear in their list
    held = saved_model.heldout.indptr
    user_idx = int((held[1:] - held[:-1]).argmax())
    user_id = saved_model.users.to_id([user_idx])[0]
    at = with_model(tmp_path, saved_model)
    at.switch_page("views/recommend.py").run()
    at.selectbox(key="rec_user").set_value(user_id).run()
    at.slider(key="rec_min_ratings").set_value(0).run()
    at.slider(key="rec_k").set_value(50).run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "predicted_rating" in d.value.columns)
    assert len(shown) == 50
    titles = set(saved_model.catalog.frame["title"].iloc[saved_model.rated(user_idx)])
    assert not titles & set(shown["title"])
    everything = saved_model.recommend(user_id, k=50, exclude_seen=False)
    assert titles & set(everything["title"])  # without the exclusion some of them would be there


def test_recommend_page_without_model_links_to_train(tmp_path):
    at = app(tmp_path)
    at.switch_page("views/recommend.py").run()
    assert not at.exception
    assert any("no active model" in i.value for i in at.info)


def test_embeddings_page_map_search_users_and_3d(tmp_path, saved_model):
    at = with_model(tmp_path, saved_model)
    at.switch_page("views/embeddings.py").run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert json.loads(spec)["data"][0]["type"] == "scatter" and "customdata" in spec  # SVG: drawn in trace order
    title = saved_model.catalog.frame["title"].iloc[0]
    at.text_input(key="emb_search").set_value(title).run()
    assert not at.exception and "chosen movie" in at.get("plotly_chart")[0].proto.spec
    at.radio(key="emb_dims").set_value(3).run()
    assert not at.exception and "scatter3d" in at.get("plotly_chart")[0].proto.spec
    at.radio(key="emb_show").set_value("users").run()
    assert not at.exception and "user %{customdata[0]}" in at.get("plotly_chart")[0].proto.spec
    assert len(at.get("download_button")) == 3


def test_runs_page_checkpoint_from_path(tmp_path, saved_model):
    runs = tmp_path / "runs"
    at = app(runs)
    at.switch_page("views/runs.py").run()
    at.text_input(key="runs_path").set_value(str(tmp_path / "missing.pt")).run()
    at.button(key="runs_load_path").click().run()
    assert any("no such checkpoint file" in plain(e.value) for e in at.error)
    path = checkpoint.save(saved_model, tmp_path / "model.pt")
    at.text_input(key="runs_path").set_value(str(path)).run()
    at.button(key="runs_load_path").click().run()
    assert not at.exception
    assert at.session_state[state.ACTIVE_MODEL].recommender.n_items == saved_model.n_items
    assert [r.record.source for r in list_runs(runs)] == ["loaded model.pt"]


def fresh_session(runs_dir: Path, **params: str) -> AppTest:
    """A new browser session (a reload, a restart, or a shared link) opening the app with these URL params."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(runs_dir)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def test_an_upload_survives_a_reload_through_the_url_and_the_saved_list(tmp_path):
    at = app(tmp_path)
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("u.data", U_DATA, "text/plain")).run()
    at.button(key="data_use_upload").click().run()
    assert at.session_state[state.DATASET].name == "u.data"
    digest = at.session_state[state.DATASET_HASH][:16]  # what the URL carries (the browser test reads the URL)

    reloaded = fresh_session(tmp_path, data=digest)
    assert not reloaded.exception
    assert reloaded.session_state[state.DATASET].name == "u.data"
    assert len(reloaded.session_state[state.DATASET].ratings) == len(at.session_state[state.DATASET].ratings)
    assert "u.data" in plain(sidebar_text(reloaded))

    listed = fresh_session(tmp_path)  # no URL: the Data page lists it for reuse without uploading again
    listed.switch_page("views/data.py").run()
    listed.radio(key="data_source").set_value("saved").run()
    assert any("u.data" in plain(m.value) for m in listed.markdown)
    listed.button(key=f"data_use_saved_{digest}").click().run()
    assert listed.session_state[state.DATASET].name == "u.data"


def test_a_damaged_saved_dataset_or_missing_run_is_a_message_and_the_rest_loads(tmp_path, saved_model):
    from cfcore.datastore import list_saved, save_dataset

    info = save_dataset(tmp_path, __import__("cfcore.data.load", fromlist=["load_dataset"]).load_dataset(
        U_DATA, name="u.data"))
    (info.path / "ratings.parquet").write_bytes(b"not parquet at all")
    run = save_run(tmp_path, saved_model)
    at = fresh_session(tmp_path, data=info.content_hash[:16], run=run.run_id)
    assert not at.exception
    assert at.session_state[state.DATASET].name == "MovieLens sample"  # fell back
    assert at.session_state[state.ACTIVE_MODEL].run_id == run.run_id  # the run still loaded
    assert any("could not be restored" in plain(w.value) and "damaged" in plain(w.value) for w in at.warning)
    gone = fresh_session(tmp_path, run="20200101-000000-nothere")
    assert not gone.exception and state.ACTIVE_MODEL not in gone.session_state
    assert any("could not be restored" in plain(w.value) for w in gone.warning)
    assert len(list_saved(tmp_path)) == 1


def test_the_url_names_the_run_user_and_movie_and_reopens_them(tmp_path, saved_model, small_synthetic):
    from cfcore.datastore import content_hash, save_dataset

    dataset = small_synthetic.dataset
    # the run records its data and split, so a link to it rebuilds both
    assert saved_model.record.dataset.content_hash == content_hash(dataset.ratings)
    assert saved_model.record.split == SplitSettings("random", 0.1, 0)
    save_dataset(tmp_path, dataset)
    run = save_run(tmp_path, saved_model)
    user_id = saved_model.users.to_id([7])[0]
    movie_id = saved_model.items.to_id([3])[0]
    at = fresh_session(tmp_path, run=run.run_id, user=str(user_id), movie=str(movie_id))
    at.switch_page("views/recommend.py").run()
    assert not at.exception
    assert at.session_state[state.ACTIVE_MODEL].run_id == run.run_id
    assert at.selectbox(key=state.REC_USER).value == user_id
    assert at.selectbox(key=state.SIM_MOVIE).value == 3
    # the active dataset is the built-in one, yet ranking evaluation works: the store has the run's data
    assert at.session_state[state.ACTIVE_MODEL].val is not None
    assert any(m.label.startswith("Precision@") for m in at.metric)


def test_a_reloaded_tab_reattaches_to_its_running_job(tmp_path, small_synthetic):
    from ui.jobs import TrainingJob

    parts = split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)
    job = TrainingJob(small_synthetic.dataset, parts, TrainConfig(epochs=10_000, embedding_dim=4, early_stopping=None),
                      tmp_path).start()
    try:
        at = fresh_session(tmp_path, job=job.job_id)
        at.switch_page("views/train.py").run()
        assert at.session_state[state.JOB] is job and job.running
        assert at.button(key="train_stop").disabled is False
        # the Train page draws the progress; the sidebar says so instead of drawing a second copy
        assert at.main.get("progress") and not at.sidebar.get("progress")
        assert "training: progress on this page" in [c.value for c in at.sidebar.caption]
        at.switch_page("views/data.py").run()
        assert len(at.sidebar.get("progress")) == 1
    finally:
        job.stop()
        job.join(30)
    assert not job.running


def test_home_page_explains_and_its_demo_lands_on_recommend(tmp_path):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.run()
    assert not at.exception and at.title[0].value == "CF Studio"
    assert "(user, item, rating)" in at.markdown[0].value
    at.button(key="home_demo").click().run()
    job = at.session_state[state.JOB]
    assert job.config == TrainConfig() and at.session_state[state.DATASET].name == "MovieLens sample"
    # the page draws the demo's progress; the sidebar says so instead of drawing a second copy on its own clock
    assert job.running and at.main.get("progress") and not at.sidebar.get("progress")
    assert "training: progress on this page" in [c.value for c in at.sidebar.caption]
    assert "none yet" in [c.value for c in at.sidebar.caption]  # not "train one on the Train page": one is training
    deadline = time.time() + 240
    while job.running and time.time() < deadline:  # a page redraw would heartbeat the job; AppTest has none, and a
        job.heartbeat()                           # job nobody watched for a minute (a slow machine) stops itself
        job.join(timeout=5)
    assert job.state.status == "done", job.state.message
    at.run()
    assert not at.exception
    assert at.session_state[state.ACTIVE_MODEL].recommender is job.state.result
    assert at.title[0].value == "Recommend"



def finished_demo_job(tmp_path, small_synthetic, message: str):
    """A demo job that has ended with ``message`` and no model (never started: its thread is not alive)."""
    from ui.jobs import TrainingJob

    parts = split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)
    job = TrainingJob(small_synthetic.dataset, parts, TrainConfig(embedding_dim=4), tmp_path)
    job.state.status, job.state.message = "failed", message
    return job


def test_a_demo_that_fails_says_why_on_the_home_page_and_the_sidebar_stops_pointing_at_it(tmp_path, small_synthetic):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.JOB] = finished_demo_job(tmp_path, small_synthetic, "Disk full_while *saving*")
    at.session_state[state.DEMO] = True
    at.run()
    assert not at.exception and at.title[0].value == "CF Studio"  # stayed on Home
    assert [e.value for e in at.error] == [r"The demo could not train: Disk full\_while \*saving\*"]
    assert state.DEMO not in at.session_state
    assert "training: progress on this page" not in [c.value for c in at.sidebar.caption]
    at.run()
    assert not at.error  # said once


def test_a_demo_that_ended_while_another_page_was_open_does_not_jump_on_coming_home(tmp_path, small_synthetic):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.JOB] = finished_demo_job(tmp_path, small_synthetic, "stopped")
    at.session_state[state.JOB_ABSORBED] = True  # the other page's sidebar already took its result
    at.session_state[state.DEMO] = True
    at.run()
    assert not at.exception and at.title[0].value == "CF Studio" and not at.error
    assert state.DEMO not in at.session_state

def test_the_session_memo_never_hands_one_model_another_models_results():
    """Keyed by the model object (weakly), not by id(): CPython reuses a freed object's id at once, so
    an id-keyed memo gave a freshly trained model the previous model's labels and map."""
    import gc
    import weakref

    from ui.state import memo

    class Model:  # stands in for a Recommender: same size every time, so a freed one's id is reused
        def __init__(self, name):
            self.name = name

    store = weakref.WeakKeyDictionary()
    seen_ids = set()
    for n in range(50):
        model = Model(f"model {n}")
        seen_ids.add(id(model))
        assert memo(model, ("labels",), lambda name=model.name: name, store) == f"model {n}"
        del model
        gc.collect()
    assert len(seen_ids) < 50  # ids were reused: an id-keyed memo would have answered with a stale name
    assert len(store) == 0  # entries go with their models


def test_download_files_are_built_when_clicked_not_on_every_rerun(tmp_path, saved_model, monkeypatch):
    """The projection CSV and the Projector's TSVs are handed to the buttons as callables (as is a
    run's checkpoint on the Runs page): a rerun of the page (any widget change) builds none of them."""
    from cfcore import export

    built = []
    for name in ("frame_to_csv", "vectors_tsv", "metadata_tsv", "projector_tsv"):
        original = getattr(export, name)
        monkeypatch.setattr(export, name, lambda *a, _f=original, _n=name, **k: built.append(_n) or _f(*a, **k))
    at = with_model(tmp_path, saved_model)
    at.switch_page("views/embeddings.py").run()
    at.radio(key="emb_show").set_value("users").run()
    assert not at.exception and len(at.get("download_button")) == 3
    assert built == []


def test_the_cli_and_the_dashboard_record_the_same_metrics(tmp_path, small_synthetic):
    """One experiment use case behind both surfaces: a run trained by the CLI and one trained by a
    dashboard job hold the same metric names, split record and data hash, and the threshold chosen."""
    import subprocess
    import sys

    from cfcore import checkpoint
    from cfcore.datastore import content_hash
    from cfcore.records import Evaluation
    from ui.jobs import TrainingJob

    source = "builtin:synthetic?n_ratings=6000&n_users=150&n_items=100&noise=0.3&seed=1"
    done = subprocess.run([sys.executable, "-m", "cfcore", "train", "--data", source, "--epochs", "2", "--dim", "4",
                           "--relevance-threshold", "3.5", "--out", str(tmp_path / "cli.pt"), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from_cli = checkpoint.load(tmp_path / "cli.pt").record
    from cfcore.data.load import load_dataset

    dataset = load_dataset(source)
    settings = SplitSettings("random", 0.1, 0)
    job = TrainingJob(dataset, settings.apply(dataset.ratings), TrainConfig(epochs=2, embedding_dim=4), tmp_path,
                      settings, content_hash(dataset.ratings), Evaluation(10, 3.5))
    job.start().join(timeout=300)
    from_job = job.state.result.record
    assert type(from_job) is type(from_cli)  # one record type, whoever trained it
    for key in ("split", "dataset", "evaluation"):
        assert getattr(from_job, key) == getattr(from_cli, key), key
    assert set(from_job.ladder) == set(from_cli.ladder) and len(from_job.buckets) == len(from_cli.buckets)
    assert from_job.evaluation.relevance_threshold == 3.5
    assert from_job.val_rmse == pytest.approx(from_cli.val_rmse, rel=1e-4)  # same data, split, config


def test_the_estimate_counts_what_comes_after_the_epochs_as_long_as_it_took_the_active_models_run(
        tmp_path, saved_model, small_synthetic):
    from cfcore.datastore import content_hash

    def expected_line(at):
        return next(m.value for m in at.markdown if m.value.startswith("**Expected:**"))

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.DATASET] = small_synthetic.dataset
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception
    # the tuned model trains with the epochs: after them only the lists' judging and saving
    assert expected_line(at).endswith(" epochs, then judging the lists and saving")
    at.selectbox(key="train_ranking_model").set_value("ease").run()
    assert expected_line(at).endswith(" epochs, then fitting the EASE (item-item) ranking model, judging the lists "
                                      "and saving")  # not timed yet: no figure
    record = replace(saved_model.record, ranking_seconds=4.2, finish_seconds=6.5,
                     config=saved_model.record.config.replace(ranking_model="ease"))
    assert record.ranking_kind == "ease" and record.dataset.content_hash == content_hash(small_synthetic.dataset.ratings)
    at.session_state[state.ACTIVE_MODEL] = state.ActiveModel(saved_model.with_record(record), None, "trained here")
    at.run()
    line = expected_line(at)
    epochs = float(re.search(r"at most ([0-9.]+) s for", line).group(1))
    in_all = float(re.search(r"so at most \*\*([0-9.]+) s\*\* in all$", line).group(1))
    assert "and saving; about 6.5 s for the active model's run" in line and in_all == pytest.approx(epochs + 6.5, abs=1)
    elsewhere = replace(record, dataset=replace(record.dataset, content_hash="another dataset"))
    at.session_state[state.ACTIVE_MODEL] = state.ActiveModel(saved_model.with_record(elsewhere), None, "trained here")
    at.run()  # its time says nothing about this data
    assert expected_line(at).endswith(" judging the lists and saving")

def test_a_link_to_a_job_the_server_no_longer_has_says_so_and_the_url_drops_it(tmp_path, saved_model):
    run = save_run(tmp_path, saved_model)
    at = fresh_session(tmp_path, job="0123456789ab", run=run.run_id, data="0000000000000000")
    assert not at.exception and at.title[0].value == "CF Studio"
    said = [plain(m.value) for m in at.info]
    assert said == ["The link named a training job that this server no longer has: it finished or was stopped, or "
                    "the server restarted since. A run it saved is on the Runs page."]
    assert any("could not be restored" in plain(w.value) for w in at.warning)  # both problems are said
    assert state.JOB not in at.session_state and at.session_state[state.ACTIVE_MODEL].run_id == run.run_id
    assert "job" not in at.query_params and at.query_params["run"] == run.run_id
    at.run()
    assert not at.info  # said once
