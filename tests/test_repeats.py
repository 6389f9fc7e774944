"""Repeats on other split seeds: the mean ± sample std on known numbers, groups of saved runs, the group kept
through run.json and the checkpoint, the error bars of the charts, and the Runs page's repeat end to end."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cfcore import checkpoint, jsonio
from cfcore.figures import charts
from cfcore.records import RankingRow, RunRecord
from cfcore.repeats import Spread, group_runs, ladder_spread, next_seeds, spread, summarize
from cfcore.runs import RunInfo, list_runs, load_run, read_run, save_run
from cfcore.split import SplitSettings
from tests.conftest import legacy_record
from tests.test_runs_page import page, select_rows
from ui import state
from ui.repeats import collapse


def run(run_id: str, *, group: str = "", seed: int = 0, rmse: float = 0.9, ndcg: float = 0.3) -> RunInfo:
    record = replace(legacy_record(val_rmse=rmse), group=group, split=SplitSettings("random", 0.1, seed),
                     ladder={"mf": RankingRow(ndcg / 2, 0.2, ndcg, 0.5, 10)})
    return RunInfo(run_id, Path(run_id), True, record=record)


# the numbers -------------------------------------------------------------------------------------------


def test_the_spread_is_the_mean_and_the_sample_standard_deviation():
    s = spread([0.86, 0.87, 0.88])
    assert s.n == 3 and s.mean == pytest.approx(0.87)
    assert s.std == pytest.approx(0.01)  # n-1 in the denominator; the population std would be 0.00816
    assert s.text() == "0.870 ± 0.010" and s.text(4) == "0.8700 ± 0.0100"


def test_a_metric_a_run_did_not_record_is_left_out_and_one_value_has_no_spread():
    s = spread([0.5, None, math.nan])
    assert (s.mean, s.n) == (0.5, 1) and math.isnan(s.std) and s.text() == "0.500"
    assert spread([]).text() == "–"


def test_summarize_gives_each_metric_of_the_runs():
    records = [run("a", rmse=0.90, ndcg=0.30).record, run("b", rmse=0.92, ndcg=0.34).record]
    summary = summarize(records)
    assert summary["rmse"].mean == pytest.approx(0.91) and summary["rmse"].std == pytest.approx(0.02 / math.sqrt(2))
    assert summary["ndcg"].mean == pytest.approx(0.32) and summary["precision"].mean == pytest.approx(0.16)
    assert summary["coverage"] == Spread(0.5, 0.0, 2)


def test_next_seeds_skip_the_seeds_the_group_already_used():
    assert next_seeds(0, [], 2) == [1, 2]
    assert next_seeds(0, [0, 1, 2], 2) == [3, 4]
    with pytest.raises(ValueError, match="got 0"):
        next_seeds(0, [], 0)


def test_groups_hold_the_repeated_run_first_then_its_repeats_by_seed_and_leave_single_runs_out():
    infos = [run("r2", group="g", seed=2), run("lone"), run("r1", group="g", seed=1), run("g", seed=0),
             run("orphan", group="deleted-run", seed=5)]
    groups = group_runs(infos)
    assert [g.group for g in groups] == ["g"]
    assert [m.run_id for m in groups[0].members] == ["g", "r1", "r2"] and groups[0].seeds == [0, 1, 2]


# the record ---------------------------------------------------------------------------------------------


def test_the_group_survives_run_json_and_the_checkpoint_and_old_records_load_without_it(tmp_path, saved_model):
    record = replace(saved_model.record, group="20261208-000000-abcdef")
    assert RunRecord.from_dict(json.loads(jsonio.dumps(record.to_dict()))).group == record.group
    info = save_run(tmp_path, saved_model.with_record(record))
    assert read_run(info.path).record.group == record.group
    assert load_run(tmp_path, info.run_id).record.group == record.group
    assert checkpoint.load(info.path / "model.pt").record.group == record.group
    old = {k: v for k, v in saved_model.record.to_dict().items() if k != "group"}  # a run saved before groups
    assert RunRecord.from_dict(old).group == ""


# the charts ---------------------------------------------------------------------------------------------


def test_the_ladder_of_a_group_draws_means_with_error_bars():
    records = [run("a", ndcg=0.30).record, run("b", ndcg=0.34).record]
    fig = charts.ranking_ladder(records[0].ladder, 10, ladder_spread(records))
    ndcg = next(t for t in fig.data if t.name == "NDCG@10")
    assert list(ndcg.x) == [pytest.approx(0.32)] and list(ndcg.error_x.array) == [pytest.approx(0.04 / math.sqrt(2))]
    written = [text for t in fig.data if t.type == "scatter" for text in t.text]  # beyond the whisker, not over it
    assert any("0.320 ± 0.028" in text for text in written) and "2 split seeds" in fig.layout.title.text
    plain = charts.ranking_ladder(records[0].ladder, 10)
    assert next(t for t in plain.data if t.name == "NDCG@10").error_x.array is None


def test_the_ranking_overlay_draws_a_group_as_one_bar_with_its_spread():
    members = [run("g", ndcg=0.30), run("r1", group="g", seed=1, ndcg=0.34)]
    drawn, spreads = collapse(members)
    assert [r.run_id for r in drawn] == ["g"]
    fig = charts.ranking_bars(drawn, spreads)
    bar = fig.data[0]
    assert bar.y[0] == pytest.approx(0.32) and bar.error_y.array[0] == pytest.approx(0.04 / math.sqrt(2))
    assert "mean ± std of 2 split seeds" in bar.name


# the Runs page, end to end ------------------------------------------------------------------------------


def test_the_runs_page_repeats_a_saved_run_on_two_more_split_seeds_and_lists_the_group(tmp_path, saved_model,
                                                                                       small_synthetic):
    first = save_run(tmp_path, saved_model).run_id
    at = page(tmp_path)
    # the run's data, active as the Data page would make it
    at.session_state[state.DATASET] = small_synthetic.dataset
    at.session_state[state.DATASET_HASH] = saved_model.record.dataset.content_hash
    at = select_rows(at, [0])
    at.button(key="runs_repeat").click().run()
    assert not at.exception
    job = at.session_state[state.REPEAT]
    assert job.seeds == [1, 2] and job.group == first
    deadline = time.time() + 240
    while job.running and time.time() < deadline:
        job.heartbeat()
        time.sleep(0.2)
    assert job.status == "done", job.message
    at.run()
    assert not at.exception
    runs = list_runs(tmp_path)
    assert len(runs) == 3 and sorted(r.record.split.seed for r in runs) == [0, 1, 2]
    assert {r.record.group for r in runs if r.run_id != first} == {first}
    assert all(r.record.config == saved_model.record.config for r in runs)  # only the split seed changed
    grouped = next(d.value for d in at.dataframe if "split seeds" in d.value.columns)  # AppTest drops its key
    assert len(grouped) == 1 and grouped["n"].iloc[0] == 3
    expected = summarize([r.record for r in runs])["rmse"]
    assert grouped["val RMSE"].iloc[0] == f"{expected.mean:.4f} ± {expected.std:.4f}"
    assert "±" in grouped["NDCG@10"].iloc[0] and grouped["split seeds"].iloc[0] == "0, 1, 2"
