"""The Train page in front of an audience: a run's verdict (a bad run says so, with the way back to the run active
before it), its result drawn from its record after a reload or from a link, the form kept through the URL, and
"Load these settings" from the Train page and the Runs page (AppTest, on saved runs with the curves of real runs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cfcore.config import TrainConfig
from cfcore.progress import EpochRecord
from cfcore.records import Baselines, RankingRow
from cfcore.runs import list_runs, load_run, save_run, set_run_label
from cfcore.split import split
from tests.test_runs_page import runs_grid, select_rows
from tests.test_verdict import BIAS, DEFAULTS, HEAVY_DECAY
from ui import state
from ui.jobs import TrainingJob

ROOT = Path(__file__).resolve().parents[1]


def save_curve(runs_dir: Path, rec, curve, name: str, **config) -> str:
    """A saved run of ``rec``'s model whose record holds ``curve`` ((train, validation) RMSE per epoch) against
    the built-in data's bias-only baseline, and these settings; its run id."""
    config = rec.record.config.replace(**config)
    epochs = tuple(EpochRecord(n, t * t, t, v, v * 0.78, config.learning_rate, 1.0, 1e5, False, n * 80)
                   for n, (t, v) in enumerate(curve, start=1))
    best = min(epochs, key=lambda e: e.val_rmse)
    own = rec.record.ranking_kind
    record = replace(rec.record, config=config, epochs=epochs, best_epoch=best.epoch, val_rmse=best.val_rmse,
                     val_mae=best.val_mae, stop_reason="early_stopping", baselines=Baselines(1.12, 0.94, BIAS, 0.75),
                     ladder={own: RankingRow(0.15, 0.24, 0.25, 0.05, 620), "popularity":
                             RankingRow(0.07, 0.10, 0.107, 0.008, 620)})
    run_id = save_run(runs_dir, rec.with_record(record)).run_id
    set_run_label(runs_dir, run_id, name, "")
    return run_id


def session(runs_dir: Path, **params: str) -> AppTest:
    """A new browser session (a reload or a shared link) with these URL parameters, on the Train page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(runs_dir)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    return at.switch_page("views/train.py").run()


def alerts(at: AppTest) -> str:
    return " ".join(a.value for a in [*at.error, *at.warning])


def bad_settings() -> dict:
    return dict(optimizer="adam", learning_rate=0.01, weight_decay=0.08, batch_size=2048, embedding_dim=32)


def test_a_run_worse_than_bias_only_says_why_and_offers_the_run_active_before_it(tmp_path, saved_model):
    good = save_curve(tmp_path, saved_model, DEFAULTS, "defaults")
    bad = save_curve(tmp_path, saved_model, HEAVY_DECAY, "heavy decay", **bad_settings())
    at = session(tmp_path, run=good)
    at.switch_page("views/runs.py").run()
    at = select_rows(at, [[info.run_id for info in list_runs(tmp_path)].index(bad)])
    at.button(key="runs_activate").click().run()  # as a presenter would make the new run active
    at.switch_page("views/train.py").run()
    assert not at.exception and at.session_state[state.ACTIVE_MODEL].run_id == bad
    text = alerts(at)
    assert "Worse than bias-only: validation RMSE 1.0511 against 0.8952" in text.replace("\\", "")
    assert "Too much weight decay (0.08, applied by dense Adam to every parameter" in text.replace("\\", "")
    back = at.button(key="train_previous_active")
    assert back.label == "Make defaults active again"
    back.click().run()
    assert at.session_state[state.ACTIVE_MODEL].run_id == good
    assert not at.error and "defaults" in at.success[0].value and "active model again" in at.success[0].value
    assert at.query_params["run"] == good


def test_the_recommended_defaults_get_no_overfitting_note_but_a_quiet_line_that_they_beat_the_baselines(
        tmp_path, saved_model):
    at = session(tmp_path, run=save_curve(tmp_path, saved_model, DEFAULTS, "defaults"))
    assert not at.exception and not at.warning and not at.error
    assert any("Beats bias-only by 0.0280 RMSE and most popular's lists" in c.value.replace("\\", "")
               for c in at.caption)


def test_a_reload_or_a_link_shows_the_active_runs_result_with_its_curves(tmp_path, saved_model):
    run_id = save_curve(tmp_path, saved_model, DEFAULTS, "defaults")
    at = session(tmp_path, run=run_id)
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Result"]
    assert at.metric[0].label == "Validation RMSE" and at.metric[0].value == "0.8672"
    assert at.metric[2].value == "4 of 8"
    chart = next(c for c in at.get("plotly_chart") if "train_record_chart" in c.proto.id)
    assert '"validation RMSE"' in chart.proto.spec and "bias only 0.895" in chart.proto.spec
    assert any("train_ladder" in c.proto.id for c in at.get("plotly_chart"))
    assert at.button(key="train_load_settings")
    # the claim's spread is one click away here too, not only under a run trained in this session
    assert at.button(key="train_repeat").label == "Repeat with 3 split seeds"


def test_the_form_is_restored_from_the_url_and_kept_in_it(tmp_path):
    at = session(tmp_path, train_embedding_dim="40", train_learning_rate="0.01", train_optimizer="adam")
    assert not at.exception and not at.warning
    assert at.number_input(key=state.form_key("embedding_dim")).value == 40
    assert at.select_slider(key=state.form_key("learning_rate")).value == 0.01
    assert at.selectbox(key=state.form_key("optimizer")).value == "adam"
    assert at.selectbox(key=state.PRESET).value == "custom"
    assert at.query_params["train_embedding_dim"] == "40" and "train_epochs" not in at.query_params
    at.number_input(key=state.form_key("epochs")).set_value(12).run()
    at.switch_page("views/runs.py").run()
    at.switch_page("views/train.py").run()  # another page's visit drops the widgets' own state
    assert at.number_input(key=state.form_key("epochs")).value == 12
    assert at.number_input(key=state.form_key("embedding_dim")).value == 40


def test_a_bad_form_value_in_the_url_is_named_and_the_default_used(tmp_path):
    at = session(tmp_path, train_embedding_dim="forty", train_epochs="99999", train_optimizer="sgd")
    assert not at.exception
    text = alerts(at).replace("\\", "")
    assert "embedding_dim is 'forty', not a whole number; the form shows the default 50 instead" in text
    assert "epochs is '99999', outside" in text and "optimizer is 'sgd'; it must be one of sparse_adam, adam" in text
    assert at.number_input(key=state.form_key("embedding_dim")).value == 50


def test_load_these_settings_fills_the_form_from_the_train_result(tmp_path, saved_model):
    at = session(tmp_path, run=save_curve(tmp_path, saved_model, HEAVY_DECAY, "heavy decay", **bad_settings()))
    assert at.number_input(key=state.form_key("embedding_dim")).value == 50
    at.button(key="train_load_settings").click().run()
    assert not at.exception
    assert at.number_input(key=state.form_key("embedding_dim")).value == 32
    assert at.number_input(key=state.form_key("weight_decay")).value == 0.08
    assert at.select_slider(key=state.form_key("batch_size")).value == 2048
    assert at.selectbox(key=state.form_key("optimizer")).value == "adam"
    assert at.query_params["train_embedding_dim"] == "32"


def test_load_these_settings_on_the_runs_page_fills_the_train_form(tmp_path, saved_model):
    save_curve(tmp_path, saved_model, HEAVY_DECAY, "heavy decay", **bad_settings())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.run()
    at.switch_page("views/runs.py").run()
    at = select_rows(at, [0])
    at.button(key="runs_load_settings").click().run()
    assert not at.exception and "The Train form now holds the settings of run heavy decay" in \
        at.success[0].value.replace("\\", "")
    at.switch_page("views/train.py").run()
    assert at.number_input(key=state.form_key("embedding_dim")).value == 32
    assert at.selectbox(key=state.form_key("optimizer")).value == "adam"


def test_the_runs_table_marks_a_run_worse_than_bias_only(tmp_path, saved_model):
    save_curve(tmp_path, saved_model, DEFAULTS, "defaults")
    save_curve(tmp_path, saved_model, HEAVY_DECAY, "heavy decay", **bad_settings())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.run()
    table = runs_grid(at.switch_page("views/runs.py").run()).value
    assert dict(zip(table["name"], table["verdict"])) == {"defaults": "✓", "heavy decay": "✗ below bias-only"}


def test_after_another_run_is_made_active_the_train_page_shows_that_run_not_the_sessions_last_job(
        tmp_path, saved_model, small_synthetic):
    trained = save_curve(tmp_path, saved_model, DEFAULTS, "trained here")
    other = save_curve(tmp_path, saved_model, HEAVY_DECAY, "heavy decay", **bad_settings())
    data = small_synthetic.dataset
    job = TrainingJob(data, split(data.ratings, "random", 0.1, seed=0), TrainConfig(), tmp_path)  # never started
    job.state.status, job.state.message = "done", "Finished 8 epochs"
    job.state.result = load_run(tmp_path, trained)
    job.state.run_info = next(info for info in list_runs(tmp_path) if info.run_id == trained)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.JOB] = job
    at.session_state[state.JOB_ABSORBED] = True  # its model was taken in; then the Runs page activated another
    at.query_params["run"] = other
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception and at.session_state[state.ACTIVE_MODEL].run_id == other
    assert any(m.value.startswith("**Active model: heavy decay") for m in at.markdown)
    assert "Worse than bias-only" in alerts(at).replace("\\", "") and not at.success  # not "Saved as run ... and made active"
