"""The Runs page's comparison tools: run names and notes, filters, the metric overlay, parallel coordinates
and the sweep heatmap, with known answers (AppTest for the page, plain calls for the chart builders)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest

from cfcore import jsonio
from cfcore.errors import CFError
from cfcore.figures import charts
from cfcore.figures.style import plot
from cfcore.records import RankingRow, StepLoss
from cfcore.runs import NAME_MAX, NOTE_MAX, RunInfo, list_runs, read_run, save_run, set_run_label
from cfcore.split import SplitSettings
from tests.conftest import legacy_record
from ui import state
from ui.text import md

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "**bold** <b>x</b> [link](http://a)"


def plain(markdown: str) -> str:
    """Markdown as a reader sees it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def save_variant(runs_dir: Path, rec, *, dataset: str, lr: float, rmse: float, kind: str = "mf",
                 created: float) -> str:
    """A saved run whose record says ``dataset``, learning rate ``lr``, validation RMSE ``rmse`` (the
    model file is the same for all: the page lists records)."""
    info = save_run(runs_dir, rec)
    record = replace(info.record, dataset=replace(info.record.dataset, name=dataset), created=created, val_rmse=rmse,
                     config=info.record.config.replace(learning_rate=lr, ranking_model=kind),
                     ladder={kind: RankingRow(0.1, 0.2, rmse / 10, 0.3, 10)},
                     step_loss=StepLoss())  # as runs saved before per-step losses were kept
    (info.path / "run.json").write_text(jsonio.dumps({"run_id": info.run_id, **record.to_dict()}))
    return info.run_id


def page(runs_dir: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(runs_dir)
    at.run()
    return at.switch_page("views/runs.py").run()


def chart_specs(at: AppTest, key: str) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart") if key in c.proto.id]


def runs_grid(at: AppTest):
    return next(d for d in at.dataframe if (d.key or "").startswith("runs_table"))


def parcoords_box(at: AppTest):
    """The parallel coordinates' dataset selector (its key carries a digest of the runs per dataset)."""
    return next(s for s in at.selectbox if (s.key or "").startswith("runs_parcoords_dataset"))


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    """Select rows of the runs table as a click in the browser would (AppTest has no dataframe selection):
    the widget state the frontend sends, added to the others."""
    states = at._tree.get_widget_states()
    extra = WidgetStates()
    extra.CopyFrom(states)
    widget = extra.widgets.add()
    widget.id = runs_grid(at).proto.id
    widget.string_value = json.dumps({"selection": {"rows": rows, "columns": [], "cells": []}})
    return at._run(extra)


# names and notes -------------------------------------------------------------------------------------


def test_a_rename_writes_only_the_label_and_keeps_the_runs_files(tmp_path, saved_model):
    info = save_run(tmp_path, saved_model)
    before = {name: (info.path / name).read_bytes() for name in ("model.pt", "run.json")}
    renamed = set_run_label(tmp_path, info.run_id, "  best so far  ", " tried lr 0.01\r\nworked ")
    assert (renamed.name, renamed.note) == ("best so far", "tried lr 0.01\nworked")
    assert renamed.run_id == info.run_id and renamed.path == info.path
    assert sorted(p.name for p in tmp_path.iterdir()) == [info.run_id]  # no new folder, no temporary left
    assert sorted(p.name for p in info.path.iterdir()) == ["label.json", "model.pt", "run.json"]
    assert {name: (info.path / name).read_bytes() for name in before} == before
    assert renamed.label.startswith(f"best so far · {info.run_id} · ")
    assert renamed.title == f"best so far · {info.run_id}"


@pytest.mark.parametrize("name, note, message", [
    ("x" * (NAME_MAX + 1), "", f"at most {NAME_MAX} characters; this one has {NAME_MAX + 1}"),
    ("ok", "y" * (NOTE_MAX + 1), f"at most {NOTE_MAX:,} characters; this one has {NOTE_MAX + 1:,}"),
    ("two\nlines", "", "control characters"),
    ("spoof\u202eed", "", "control characters"),
])
def test_a_bad_name_or_note_is_refused_with_the_limit_and_changes_nothing(tmp_path, saved_model, name, note, message):
    info = save_run(tmp_path, saved_model)
    set_run_label(tmp_path, info.run_id, "kept", "kept note")
    with pytest.raises(CFError, match=re.escape(message)):
        set_run_label(tmp_path, info.run_id, name, note)
    assert (read_run(info.path).name, read_run(info.path).note) == ("kept", "kept note")


def test_a_damaged_label_file_is_ignored_with_a_note_and_the_run_still_lists(tmp_path, saved_model):
    info = save_run(tmp_path, saved_model)
    (info.path / "label.json").write_text("{not json")
    listed = list_runs(tmp_path)[0]
    assert listed.readable and listed.name == "" and "label.json" in listed.label_error
    (info.path / "label.json").write_text(json.dumps({"name": "n" * 500}))
    listed = list_runs(tmp_path)[0]
    assert listed.readable and listed.name == "" and f"at most {NAME_MAX}" in listed.label_error


def test_the_page_renames_a_run_and_shows_the_name_literally(tmp_path, saved_model):
    run_id = save_run(tmp_path, saved_model).run_id
    at = select_rows(page(tmp_path), [0])
    assert not at.exception
    at.text_input(key=f"runs_name_{run_id}").set_value(HOSTILE)
    at.text_area(key=f"runs_note_{run_id}").set_value("a note with <i>tags</i>")
    at.button[[b.label for b in at.button].index("Save name and note")].click().run()
    assert not at.exception
    assert (list_runs(tmp_path)[0].name, list_runs(tmp_path)[0].note) == (HOSTILE, "a note with <i>tags</i>")
    assert runs_grid(at).value["name"].tolist() == [HOSTILE]  # a table cell is text
    assert runs_grid(at).value.columns[:4].tolist() == ["name", "verdict", "val RMSE", "NDCG@10"]
    at = select_rows(at, [0])
    heading = next(m.value for m in at.markdown if "bold" in m.value)
    assert plain(heading) == f"**{HOSTILE} · {run_id}**"  # as a reader sees it: the name's characters
    assert md(HOSTILE) in heading  # ... because each Markdown and HTML character is escaped
    legend = [t["name"] for t in chart_specs(at, "runs_overlay")[0]["data"] if t.get("showlegend", True)]
    assert legend == [plot(f"{HOSTILE} · {run_id}")]  # Plotly text: tags escaped
    at.button(key="runs_activate").click().run()
    assert at.session_state[state.ACTIVE_MODEL].label.startswith(f"{HOSTILE} · {run_id} · ")
    assert any(c.value.startswith(md(f"{HOSTILE} · {run_id} · ")) for c in at.sidebar.caption)
    at = select_rows(at, [0])
    at.text_input(key=f"runs_name_{run_id}").set_value("second name")
    at.button[[b.label for b in at.button].index("Save name and note")].click().run()
    assert at.session_state[state.ACTIVE_MODEL].label.startswith(f"second name · {run_id} · ")  # the sidebar follows


def test_the_page_refuses_a_long_name_and_keeps_what_was_typed(tmp_path, saved_model):
    info = save_run(tmp_path, saved_model)
    before = {name: (info.path / name).read_bytes() for name in ("model.pt", "run.json")}
    at = select_rows(page(tmp_path), [0])
    long_name = "n" * (NAME_MAX + 5)
    at.text_input(key=f"runs_name_{info.run_id}").set_value(long_name)
    at.button[[b.label for b in at.button].index("Save name and note")].click().run()
    assert not at.exception
    assert any(f"at most {NAME_MAX} characters; this one has {NAME_MAX + 5}" in plain(e.value) for e in at.error)
    assert at.text_input(key=f"runs_name_{info.run_id}").value == long_name  # nothing typed is lost
    assert not (info.path / "label.json").exists()
    assert {name: (info.path / name).read_bytes() for name in before} == before


# filters and groups ----------------------------------------------------------------------------------


def test_filters_group_and_a_selection_picks_the_run_in_that_row(tmp_path, saved_model):
    ids = {name: save_variant(tmp_path, saved_model, dataset=dataset, lr=lr, rmse=rmse, kind=kind, created=created)
           for name, dataset, lr, rmse, kind, created in [
               ("ml-old", "MovieLens sample", 0.001, 0.93, "mf", 1.0),
               ("syn", "synthetic", 0.01, 0.55, "ease", 2.0),
               ("ml-new", "MovieLens sample", 0.01, 0.91, "ease", 3.0)]}
    for name, run_id in ids.items():
        set_run_label(tmp_path, run_id, name)
    at = page(tmp_path)
    assert runs_grid(at).value["name"].tolist() == ["ml-new", "syn", "ml-old"]  # newest first
    at.multiselect(key="runs_filter_dataset").set_value(["MovieLens sample"]).run()
    assert runs_grid(at).value["name"].tolist() == ["ml-new", "ml-old"]
    assert any("2 of 3 runs" in plain(c.value) for c in at.caption)
    at = select_rows(at, [1])  # the second row shown is ml-old, not the second run of all (syn)
    assert at.text_input(key=f"runs_name_{ids['ml-old']}").value == "ml-old"
    at.multiselect(key="runs_filter_kind").set_value(["EASE (item-item)"]).run()
    assert runs_grid(at).value["name"].tolist() == ["ml-new"]
    assert not [t for t in at.text_input if t.key and t.key.startswith("runs_name_")]  # a new filter: no selection
    at.multiselect(key="runs_filter_dataset").set_value([]).run()
    at.multiselect(key="runs_filter_kind").set_value([]).run()
    at.selectbox(key="runs_group").set_value("dataset").run()
    assert runs_grid(at).value["name"].tolist() == ["ml-new", "ml-old", "syn"]  # grouped, newest first inside
    summary = next(d.value for d in at.dataframe if "best val RMSE" in d.value.columns)
    assert summary["dataset"].tolist() == ["MovieLens sample", "synthetic"]
    assert summary["runs"].tolist() == [2, 1]
    assert summary["best val RMSE"].tolist() == pytest.approx([0.91, 0.55])
    assert summary["best NDCG@10"].tolist() == pytest.approx([0.093, 0.055])
    at = select_rows(at, [2])
    assert at.text_input(key=f"runs_name_{ids['syn']}").value == "syn"
    assert not at.exception


def test_parallel_coordinates_show_one_dataset_and_only_the_settings_that_vary(tmp_path, saved_model):
    for dataset, lr, rmse, created in [("MovieLens sample", 0.001, 0.93, 1.0), ("MovieLens sample", 0.01, 0.91, 2.0),
                                       ("synthetic", 0.003, 0.55, 3.0)]:
        save_variant(tmp_path, saved_model, dataset=dataset, lr=lr, rmse=rmse, created=created)
    at = page(tmp_path)
    assert parcoords_box(at).value == "MovieLens sample"  # the active dataset
    (spec,) = chart_specs(at, "runs_parcoords")
    dims = spec["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["learning rate (log)", "val RMSE (lower is better)"]
    assert dims[0]["ticktext"] == ["0.001", "0.01"]
    assert dims[0]["tickvals"] == pytest.approx([-3.0, -2.0])
    line = spec["data"][0]["line"]
    assert (line["cmin"], line["cmax"]) == pytest.approx((0.91, 0.93))  # the synthetic run's 0.55 is not there
    parcoords_box(at).set_value("synthetic").run()
    assert not chart_specs(at, "runs_parcoords")
    assert any("Only one run on synthetic" in plain(c.value) for c in at.caption)


# the metric overlay ----------------------------------------------------------------------------------


def run_info(run_id: str, history: list[dict], **metrics) -> RunInfo:
    return RunInfo(run_id, Path("/nowhere"), True, record=legacy_record({"ranking_model": "mf"}, "d", history,
                                                                        **metrics))


def epochs(*rmses: float) -> list[dict]:
    return [{"epoch": i + 1, "val_rmse": v, "train_rmse": v - 0.1, "val_mae": v - 0.2, "seconds": 2.0,
             "train_loss": (v - 0.1) ** 2, "learning_rate": 0.005, "ratings_per_second": 1e6, "is_best": True}
            for i, v in enumerate(rmses)]


def test_the_rmse_overlay_draws_every_run_with_markers_and_each_baseline_once():
    long = run_info("long", epochs(1.0, 0.95, 0.92, 0.91), baseline_global_mean_rmse=1.1, baseline_bias_rmse=0.95)
    short = run_info("short", epochs(0.97), baseline_global_mean_rmse=1.1, baseline_bias_rmse=0.95)
    fig = charts.run_metric_figure([short, long], "validation RMSE per epoch")
    assert [t.name for t in fig.data] == ["long", "short"]  # the short run drawn last, on top
    assert [t.legendrank for t in fig.data] == [2, 1]  # ... and listed first, as selected
    assert list(fig.data[1].x) == [1] and "markers" in fig.data[1].mode  # one epoch is a visible dot
    assert fig.data[1].marker.size > fig.data[0].marker.size
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.95, 1.1]
    assert sorted(a.text for a in fig.layout.annotations) == ["bias only 0.950", "global mean 1.100"]
    by_time = charts.run_metric_figure([long], "validation RMSE per epoch", x="seconds", log_y=True)
    assert list(by_time.data[0].x) == [2.0, 4.0, 6.0, 8.0] and by_time.layout.yaxis.type == "log"
    assert not charts.run_metric_figure([long], "train RMSE per epoch").layout.shapes  # baselines are on validation


def test_the_step_loss_is_smoothed_on_request_and_runs_without_it_are_named():
    steps = {"step": [10, 20, 30], "train_loss": [1.0, 0.0, 1.0], "seconds": [0.5, 1.0, 1.5]}
    with_steps, without = run_info("new", epochs(0.9), step_loss=steps), run_info("old", epochs(0.9))
    assert charts.run_metric_names([without]) == ["validation RMSE per epoch", "train RMSE per epoch",
                                                  "validation MAE per epoch"]
    assert charts.STEP_LOSS in charts.run_metric_names([with_steps, without])
    raw = charts.run_metric_figure([with_steps, without], charts.STEP_LOSS)
    assert [list(t.y) for t in raw.data] == [[1.0, 0.0, 1.0]]
    smoothed = charts.run_metric_figure([with_steps], charts.STEP_LOSS, smoothing=0.5, x="seconds")
    faint, trend = smoothed.data
    assert list(faint.y) == [1.0, 0.0, 1.0] and list(trend.y) == pytest.approx([1.0, 0.5, 0.75])
    assert list(trend.x) == [0.5, 1.0, 1.5]


def test_ranking_bars_carry_each_runs_metrics_and_the_popularity_floor():
    ladder = {"popularity": {"ndcg": 0.2, "precision": 0.1, "recall": 0.3, "coverage": 0.05}}
    a = run_info("a", epochs(0.9), ranking={"ndcg": 0.25, "precision": 0.12, "recall": 0.35, "coverage": 0.4},
                 ranking_ladder=ladder, ranking_k=10)
    b = run_info("b", epochs(0.9), ranking={"ndcg": 0.15, "precision": 0.08, "recall": 0.2, "coverage": 0.6},
                 ranking_ladder=ladder, ranking_k=10)
    fig = charts.run_metric_figure([a, b], charts.RANKING)
    bars = [t for t in fig.data if t.type == "bar"]
    floors = [t for t in fig.data if t.type == "scatter"]
    assert [list(t.y) for t in bars] == [[0.25, 0.12, 0.35, 0.4], [0.15, 0.08, 0.2, 0.6]]
    assert [list(t.y) for t in floors] == [[0.2, 0.1, 0.3, 0.05]] * 2
    assert [t.showlegend for t in floors] == [True, False]  # one legend entry for the floor
    assert "top-10" in fig.layout.title.text


def test_the_page_overlays_the_chosen_metric_of_the_selected_runs(tmp_path, saved_model):
    for lr, created in ((0.001, 1.0), (0.01, 2.0)):
        save_variant(tmp_path, saved_model, dataset="synthetic", lr=lr, rmse=0.9, created=created)
    at = select_rows(page(tmp_path), [0, 1])
    assert at.selectbox(key="runs_metric").value == "validation RMSE per epoch"
    (spec,) = chart_specs(at, "runs_overlay")
    assert len([t for t in spec["data"] if t.get("mode") == "lines+markers"]) == 2
    assert "training loss per step" not in at.selectbox(key="runs_metric").options  # saved without step losses
    at.selectbox(key="runs_metric").set_value(charts.RANKING).run()
    (spec,) = chart_specs(at, "runs_overlay")
    assert len([t for t in spec["data"] if t["type"] == "bar"]) == 2
    assert not at.exception


# parallel coordinates and the sweep heatmap ------------------------------------------------------------


def test_log_axes_are_labelled_in_real_units():
    assert charts.log_ticks([0.001, 0.01]) == ([pytest.approx(-3.0), pytest.approx(-2.0)], ["0.001", "0.01"])
    values, texts = charts.log_ticks([0.0001, 0.0003, 0.001, 0.002, 0.003, 0.006, 0.01, 0.03])
    assert texts == ["0.0001", "0.0002", "0.0005", "0.001", "0.002", "0.005", "0.01", "0.02"]
    assert values[0] == pytest.approx(-4.0)


def test_parallel_coordinates_drop_constant_settings_and_use_log_axes_for_wide_ones():
    frame = pd.DataFrame({"dim": [8, 128, 32], "learning rate": [0.001, 0.01, 0.003], "batch": [1024] * 3,
                          "weight decay": [0.05] * 3, "optimizer": ["adam", "sparse_adam", "adam"],
                          "val RMSE": [0.93, 0.91, 0.92]})
    settings = ["dim", "learning rate", "batch", "weight decay", "optimizer"]
    assert charts.varying_settings(frame, settings) == ["dim", "learning rate", "optimizer"]
    dims = charts.parallel_coordinates(frame, settings).data[0].dimensions
    assert [d.label for d in dims] == ["dim (log)", "learning rate (log)", "optimizer", "val RMSE (lower is better)"]
    assert list(dims[0].ticktext) == ["8", "32", "128"]
    assert list(dims[1].ticktext) == ["0.001", "0.003", "0.01"]
    assert list(dims[2].ticktext) == ["adam", "sparse_adam"] and list(dims[2].values) == [0, 1, 0]


def sweep_frame(rmses: list[float]) -> pd.DataFrame:
    grid = [(d, lr) for d in (16, 50) for lr in (0.003, 0.01)]
    return pd.DataFrame([{"dim": d, "learning rate": lr, "batch": 1024, "weight decay": 0.05, "val RMSE": v}
                         for (d, lr), v in zip(grid, rmses)])


def test_the_sweep_heatmap_starts_at_the_best_run_and_writes_each_value():
    fig = charts.sweep_figure(sweep_frame([0.9172, 0.9161, 0.9200, 0.9165]), ["dim", "learning rate"])
    heat = fig.data[0]
    assert heat.zmin == pytest.approx(0.9161)
    assert heat.zmax == pytest.approx(0.9161 + charts.MIN_SPREAD)  # 0.0011 apart is not the whole scale
    assert list(heat.x) == ["0.003", "0.01"] and list(heat.y) == ["16", "50"]
    assert heat.text[0][1] == "0.9161<br>best" and heat.text[0][0] == "0.9172<br>+0.0011"
    (best,) = fig.layout.shapes
    assert (best.x0, best.y0) == (0.5, -0.5)  # column 1, row 0
    wide = charts.sweep_figure(sweep_frame([0.9, 3.0, 0.95, 0.92]), ["dim", "learning rate"]).data[0]
    assert (wide.zmin, wide.zmax) == pytest.approx((0.9, 0.9 + charts.MAX_SPREAD))  # one diverged run


def test_the_sweep_chart_waits_for_two_runs_and_then_has_real_axes():
    frame = sweep_frame([0.93, np.nan, np.nan, np.nan])
    assert charts.sweep_figure(frame, ["dim", "learning rate"]) is None
    fig = charts.sweep_figure(sweep_frame([0.93, 0.91]).iloc[:2], ["learning rate"])
    assert list(fig.data[0].x) == ["0.003", "0.01"]
    low, high = fig.layout.yaxis.range
    assert low < 0.91 < 0.93 < high and high - low < 0.1  # around the values, not -1 to 1


# the table's columns at presenter width, mixed splits, the sidebar after activating -------------------------


def save_with(runs_dir: Path, rec, **changes) -> str:
    """A saved run whose record has ``changes`` (dataclass fields of RunRecord) replaced."""
    info = save_run(runs_dir, rec)
    record = replace(info.record, **changes)
    (info.path / "run.json").write_text(jsonio.dumps({"run_id": info.run_id, **record.to_dict()}))
    return info.run_id


def test_the_runs_table_puts_the_compared_numbers_first_and_says_date_split_status_and_note(tmp_path, saved_model):
    created = 1_765_000_000.0
    ids = [save_with(tmp_path, saved_model, created=created + n, **changes) for n, changes in enumerate([
        dict(stop_reason="completed", split=SplitSettings("random", 0.2, 0)),
        dict(stop_reason="early_stopping", split=SplitSettings("user", 0.1, 3)),
        dict(stop_reason="stopped", split=None),
        dict(stop_reason="stopped", partial=True, split=SplitSettings("time", 0.1, 0))])]
    set_run_label(tmp_path, ids[0], "first", HOSTILE)
    grid = runs_grid(page(tmp_path)).value  # newest first
    assert grid.columns[:4].tolist() == ["name", "verdict", "val RMSE", "NDCG@10"]
    assert grid["name"].tolist() == ids[:0:-1] + ["first"]  # an unnamed run goes by its id, not a blank cell
    assert grid["status"].tolist() == ["partial", "stopped by user", "stopped early", "completed"]
    assert grid["split"].tolist() == ["time 0.9 seed 0", "not recorded", "user 0.9 seed 3", "random 0.8 seed 0"]
    assert grid["created"].iloc[-1] == datetime.fromtimestamp(created).strftime("%d %b %H:%M")  # local time
    assert grid["note"].iloc[-1] == HOSTILE  # a table cell is text
    assert grid["coverage"].iloc[-1] == pytest.approx(100 * saved_model.record.ranking.coverage)  # shown as 43%


def test_selected_runs_on_different_splits_or_datasets_are_not_compared_silently(tmp_path, saved_model):
    same = SplitSettings("random", 0.1, 0)
    for created, split_settings, dataset in [(1.0, same, "synthetic"), (2.0, same, "synthetic"),
                                             (3.0, SplitSettings("random", 0.1, 5), "synthetic")]:
        save_with(tmp_path, saved_model, created=created, split=split_settings,
                  dataset=replace(saved_model.record.dataset, name=dataset))
    at = select_rows(page(tmp_path), [1, 2])  # the two runs on the same split
    assert not [w for w in at.warning if "not directly comparable" in w.value]
    at = select_rows(at, [0, 1])
    (note,) = [plain(w.value) for w in at.warning if "not directly comparable" in w.value]
    assert "different splits (random 0.9 seed 0, random 0.9 seed 5)" in note
    assert not at.exception


def test_the_parcoords_selector_is_redrawn_with_new_counts_and_keeps_the_chosen_dataset(tmp_path, saved_model):
    for dataset, lr, rmse, created in [("MovieLens sample", 0.001, 0.93, 1.0), ("MovieLens sample", 0.01, 0.91, 2.0),
                                       ("synthetic", 0.003, 0.55, 3.0)]:
        save_variant(tmp_path, saved_model, dataset=dataset, lr=lr, rmse=rmse, created=created)
    at = page(tmp_path)
    parcoords_box(at).set_value("synthetic").run()
    before = parcoords_box(at).key
    save_variant(tmp_path, saved_model, dataset="synthetic", lr=0.01, rmse=0.5, created=4.0)  # a new run
    at.run()
    box = parcoords_box(at)
    # the browser keeps a keyed selectbox's first labels ("synthetic (1 runs)" above a chart of 2): a new key
    assert box.key != before
    assert box.value == "synthetic" and "synthetic (2 runs)" in box.options
    (spec,) = chart_specs(at, "runs_parcoords")
    assert "2 runs on synthetic" in spec["layout"]["title"]["text"]
    assert len(spec["data"][0]["dimensions"][-1]["values"]) == 2


def test_the_sidebar_names_the_dataset_of_a_run_trained_on_other_data(tmp_path, saved_model, small_synthetic):
    save_run(tmp_path, saved_model)  # trained on the synthetic data; the built-in sample is active
    at = select_rows(page(tmp_path), [0])
    at.button(key="runs_activate").click().run()
    assert not at.exception
    captions = [plain(c.value) for c in at.sidebar.caption]
    assert captions[0].startswith("MovieLens sample")  # the active dataset stays the active one
    assert f"trained on {saved_model.record.dataset.name}, not the active dataset" in captions
    at.session_state[state.DATASET] = small_synthetic.dataset  # as the Data page makes it active
    at.session_state[state.DATASET_HASH] = saved_model.record.dataset.content_hash
    at.run()
    assert not [c for c in at.sidebar.caption if "not the active dataset" in c.value]
