"""The CLI end to end, as a user runs it: outputs, files written, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cfcore.synthetic import SyntheticSpec, generate

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "builtin:synthetic?n_ratings=6000&n_users=150&n_items=100&noise=0.3&seed=1"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfcore", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin"})  # the installed package, from any folder


def assert_one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert pattern in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    result = cli("train", "--data", SYNTH, "--epochs", "3", "--dim", "8", "--out", str(out / "m.pt"),
                 "--metrics-json", str(out / "m.json"))
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_prints_epochs_and_summary_and_writes_files(trained):
    out, result = trained
    assert "Epoch 1: Training Loss:" in result.stdout and "Validation RMSE:" in result.stdout
    assert "bias-only RMSE" in result.stdout and "saved model to" in result.stdout
    metrics = json.loads((out / "m.json").read_text())
    for key in ("val_rmse", "val_mae", "test_rmse", "test_mae", "baseline_global_mean_rmse", "baseline_bias_rmse",
                "best_epoch", "epochs", "train_ratings_per_second", "device", "config", "ranking"):
        assert key in metrics
    assert metrics["test_rmse"] is None and metrics["config"]["embedding_dim"] == 8
    assert len(metrics["epochs"]) == 3 and set(metrics["epochs"][0]) == {
        "epoch", "train_loss", "val_rmse", "val_mae", "seconds", "ratings_per_second"}
    assert metrics["val_rmse"] == min(e["val_rmse"] for e in metrics["epochs"])


def test_recommend_and_similar(trained):
    out, _ = trained
    table = cli("recommend", "--model", str(out / "m.pt"), "--user", "3", "-k", "4")
    assert table.returncode == 0 and "predicted_rating" in table.stdout
    assert len(table.stdout.strip().splitlines()) == 5
    rows = json.loads(cli("similar", "--model", str(out / "m.pt"), "--item", "2", "-k", "3", "--json").stdout)
    assert len(rows) == 3 and {"item_id", "title", "similarity"} <= set(rows[0])
    assert all(r["item_id"] != 2 for r in rows)
    assert all(isinstance(r["year"], int) and isinstance(r["n_ratings"], int) for r in rows)  # 1995, not 1995.0
    # ordered by cosine discounted for movies with few ratings (cosine x n / (n + 10)); the column is the cosine
    ordered = [r["similarity"] * r["n_ratings"] / (r["n_ratings"] + 10) for r in rows]
    assert ordered == sorted(ordered, reverse=True)


def test_test_file_with_unseen_users(tmp_path):
    data = generate(SyntheticSpec(n_ratings=6000, n_users=150, n_items=100, noise=0.3, seed=1))
    frame = data.dataset.ratings.to_frame()
    frame[:5000].to_csv(tmp_path / "train.csv", index=False)
    test = frame[5000:].copy()
    test.loc[test.index[:5], "user_id"] = 9999  # a user the model never saw
    test.to_csv(tmp_path / "test.tsv", sep="\t", index=False, header=False)
    result = cli("train", "--data", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.tsv"),
                 "--epochs", "2", "--dim", "8", "--metrics-json", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["test_rmse"] is not None and metrics["test_rmse"] < metrics["baseline_global_mean_rmse"]
    assert "test: 1,000 ratings, " in result.stdout and "unseen in training" in result.stdout


@pytest.mark.parametrize("args,pattern", [
    (["train", "--data", "/nonexistent/ratings.csv"], "no such file"),
    (["train", "--dim", "0"], "embedding_dim must be between 1 and 4096; got 0"),
    (["train", "--lr", "1e6"], "learning_rate must be between"),
    (["train", "--split", "sideways"], "invalid choice: 'sideways'"),
    (["train", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["recommend", "--user", "1"], "--model"),
    ([], "required"),
])
def test_bad_usage_is_one_error_line_and_exit_2(args, pattern):
    assert_one_line_error(cli(*args), pattern)


def test_bad_files_and_ids_are_one_error_line(trained, tmp_path):
    out, _ = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,great\n")
    assert_one_line_error(cli("train", "--data", str(bad)), "holds text: 'great' on line 2")
    assert_one_line_error(cli("recommend", "--model", str(bad), "--user", "1"), "not a CF Studio checkpoint")
    foreign = tmp_path / "foreign.pkl"  # protocol 5: torch warns about it before refusing it
    foreign.write_bytes(__import__("pickle").dumps([1, 2], protocol=5))
    assert_one_line_error(cli("recommend", "--model", str(foreign), "--user", "1"), "not a CF Studio checkpoint")
    assert_one_line_error(cli("recommend", "--model", str(out / "m.pt"), "--user", "nobody"), "unknown user_id 'nobody'")
    assert_one_line_error(cli("similar", "--model", str(out / "m.pt"), "--item", "12345"), "unknown item_id")
    assert_one_line_error(cli("recommend", "--model", str(out / "m.pt"), "--user", "1", "-k", "0"), "-k must be at least 1")


def test_train_reports_the_ranking_ladder(trained):
    out, result = trained
    metrics = json.loads((out / "m.json").read_text())
    assert metrics["ranking_model"] == "tuned"  # the model the knobs train orders the lists by default
    assert set(metrics["ranking_ladder"]) == {"popularity", "mf", "ease", "tuned"}
    assert metrics["ranking"] == metrics["ranking_ladder"]["tuned"]
    for name in ("most popular", "rating model (MF)", "EASE (item-item)", "tuned factor model *"):
        assert name in result.stdout
    assert "P@10" in result.stdout and "NDCG@10" in result.stdout


def test_batch_recommendations_for_every_user(trained, tmp_path):
    import pandas as pd

    from cfcore import checkpoint

    out, _ = trained
    result = cli("recommend", "--model", str(out / "m.pt"), "--all-users", "-k", "5", "--out", str(tmp_path / "r.csv"))
    assert result.returncode == 0, result.stderr
    recs = pd.read_csv(tmp_path / "r.csv")
    rec = checkpoint.load(out / "m.pt")
    assert list(recs.columns) == ["user_id", "rank", "item_id", "score", "title"]
    assert recs["user_id"].nunique() == rec.n_users and len(recs) == 5 * rec.n_users
    assert (recs.groupby("user_id")["rank"].apply(list) == pd.Series([[1, 2, 3, 4, 5]] * rec.n_users,
                                                                     index=sorted(recs["user_id"].unique()))).all()
    assert (recs.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    for user_id, group in recs.groupby("user_id"):  # nothing the user rated, in training or held out
        assert not set(rec.items.to_idx(group["item_id"])) & set(rec.rated(rec.users.idx(user_id)))
    single = rec.recommend(int(recs["user_id"].iloc[0]), 5)
    assert single["item_id"].tolist() == recs["item_id"].iloc[:5].tolist()


def test_batch_recommendations_for_listed_users_as_json(trained, tmp_path):
    out, _ = trained
    (tmp_path / "users.txt").write_text("user_id\n3\n\n7\n")
    rows = json.loads(cli("recommend", "--model", str(out / "m.pt"), "--users", str(tmp_path / "users.txt"),
                          "-k", "2", "--json").stdout)
    assert [(r["user_id"], r["rank"]) for r in rows] == [(3, 1), (3, 2), (7, 1), (7, 2)]
    (tmp_path / "bad.txt").write_text("3\nnobody\n")
    assert_one_line_error(cli("recommend", "--model", str(out / "m.pt"), "--users", str(tmp_path / "bad.txt")),
                          "unknown user_id 'nobody'")


def test_bad_ranking_kind_is_one_error_line(trained):
    assert_one_line_error(cli("train", "--data", SYNTH, "--ranking-model", "svd"), "invalid choice: 'svd'")


def test_ease_too_large_for_memory_is_one_error_line(monkeypatch, capsys):
    from cfcore import cli as cli_module
    from cfcore import resources

    monkeypatch.setattr(resources, "available_memory", lambda device: 500 * 2**10)  # fits the MF (349 KiB), not EASE (469 KiB)
    code = cli_module.main(["train", "--data", SYNTH, "--dim", "2", "--epochs", "1", "--quiet", "--ranking-model", "ease"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: ") and "EASE ranking model needs about" in err[0] and "--ease-max-items" in err[0]


def test_each_ranking_kind_has_its_own_flags_from_the_registry(tmp_path):
    help_text = cli("train", "--help").stdout
    assert "--ease-l2" in help_text and "--ease-max-items" in help_text and "--ranking-l2" not in help_text
    result = cli("train", "--data", SYNTH, "--epochs", "1", "--dim", "4", "--ranking-model", "ease", "--ease-l2", "50",
                 "--ease-max-items", "200",
                 "--quiet", "--metrics-json", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["config"]["ranking_params"] == {"l2": 50.0, "max_items": 200} == metrics["ranking_params"]
    assert_one_line_error(cli("train", "--data", SYNTH, "--ranking-model", "popularity", "--ease-l2", "5"),
                          "--ease-l2 sets a ranking model the lists are not ordered by (popularity)")
    assert_one_line_error(cli("train", "--data", SYNTH, "--ranking-model", "ease", "--ease-l2", "-1"),
                          "l2 must be between 0.001 and 1e+06; got -1.0")


def _strict(text: str):
    """Parse as strict JSON: NaN and Infinity are not JSON."""
    def refuse(constant):
        raise AssertionError(f"bare {constant} in JSON output")
    return json.loads(text, parse_constant=refuse)


def test_metrics_json_is_strict_json_when_a_ranking_metric_is_undefined(tmp_path):
    """Every rating below the relevance threshold: precision/recall/NDCG have nothing to find and are
    undefined; the file says null (Python's json would write a bare NaN, which JSON readers refuse)."""
    rows = ["user,item,rating"] + [f"u{u},i{(u * 7 + j) % 40},{1 + (u + j) % 3}" for u in range(60) for j in range(12)]
    data = tmp_path / "low.csv"
    data.write_text("\n".join(rows) + "\n")
    result = cli("train", "--data", str(data), "--epochs", "2", "--dim", "4", "--metrics-json", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    payload = _strict((tmp_path / "m.json").read_text())
    assert payload["ranking"]["ndcg"] is None and payload["ranking"]["precision"] is None
    assert all(row["ndcg"] is None for row in payload["ranking_ladder"].values())
    assert payload["val_rmse"] > 0  # the defined numbers are still numbers


def test_dropout_flag_reaches_the_config_and_the_checkpoint(tmp_path):
    result = cli("train", "--data", SYNTH, "--epochs", "2", "--dim", "8", "--dropout", "0.25",
                 "--out", str(tmp_path / "m.pt"), "--metrics-json", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "m.json").read_text())["config"]["dropout"] == 0.25
    from cfcore import checkpoint

    assert checkpoint.load(tmp_path / "m.pt").record.config.dropout == 0.25
    assert_one_line_error(cli("train", "--data", SYNTH, "--dropout", "1.5"), "dropout must be between 0 and 0.9; got 1.5")


CFSTUDIO = Path(sys.executable).parent / "cfstudio"  # the console entry pyproject.toml declares


def test_cfstudio_command_is_installed_and_is_the_same_cli(trained, tmp_path):
    out, _ = trained
    help_text = subprocess.run([str(CFSTUDIO), "--help"], capture_output=True, text=True, timeout=120)
    assert help_text.returncode == 0, help_text.stderr
    assert help_text.stdout.startswith("usage: cfstudio")
    for command in ("train", "recommend", "similar", "app"):
        assert command in help_text.stdout
    args = ["similar", "--model", str(out / "m.pt"), "--item", "3", "-k", "4", "--json"]
    by_entry = subprocess.run([str(CFSTUDIO), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert by_entry.returncode == 0, by_entry.stderr
    # the same answer; a cosine may differ in its last float32 digit between two processes (the product's
    # SIMD path depends on where the arrays land in memory)
    entry, module = json.loads(by_entry.stdout), json.loads(cli(*args).stdout)
    assert [{**row, "similarity": pytest.approx(row["similarity"], abs=1e-6)} for row in module] == entry


def test_cfstudio_app_runs_the_dashboard_with_streamlit_and_passes_server_options(monkeypatch, tmp_path):
    from cfcore import cli as cli_module

    calls = []
    monkeypatch.chdir(tmp_path)  # _app moves to the checkout (Streamlit reads .streamlit/ from there); restored after
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, argv)))
    assert cli_module.main(["app", "--port", "8765", "--server.headless", "true"]) == 0
    path, argv = calls[0]
    assert path == sys.executable and argv[1:4] == ["-m", "streamlit", "run"]
    assert Path(argv[4]) == ROOT / "app.py" and Path(os.getcwd()) == ROOT
    assert argv[argv.index("--server.port") + 1] == "8765" and argv[-2:] == ["--server.headless", "true"]


def test_cfstudio_app_chooses_where_the_dashboards_runs_train(monkeypatch, tmp_path):
    from cfcore import cli as cli_module
    from cfcore.launch import registry

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "execv", lambda path, argv: None)
    monkeypatch.delenv(registry.ENV, raising=False)
    try:
        assert cli_module.main(["app", "--launcher", "thread"]) == 0
        assert os.environ[registry.ENV] == "thread" and registry.choose().name == "thread"  # what the server inherits
    finally:
        os.environ.pop(registry.ENV, None)  # later tests (a killed training process) need the default again
    assert_one_line_error(cli("app", "--launcher", "cloud"), "invalid choice: 'cloud'")


@pytest.mark.parametrize("args, pattern", [(["app", "--port", "http"], "--port 'http' is not a port number"),
                                           (["train", "--server.headless", "true"], "unrecognized arguments")])
def test_cfstudio_bad_app_options_are_one_error_line(args, pattern):
    assert_one_line_error(subprocess.run([str(CFSTUDIO), *args], capture_output=True, text=True, timeout=120),
                          pattern)


def test_repeat_trains_two_split_seeds_saves_both_runs_and_prints_their_mean_and_sample_std(tmp_path):
    import statistics

    from cfcore.runs import list_runs

    result = cli("train", "--data", SYNTH, "--epochs", "2", "--dim", "8", "--repeat", "2",
                 "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    runs = sorted(list_runs(tmp_path / "runs"), key=lambda r: r.record.split.seed)
    assert [r.record.split.seed for r in runs] == [0, 1]
    assert runs[0].record.group == runs[1].record.group == runs[0].run_id  # one group, named by the first run
    assert runs[0].record.config == runs[1].record.config  # only the split seed changed
    rmses = [r.record.val_rmse for r in runs]
    for r in runs:
        assert f"split seed {r.record.split.seed}: run {r.run_id}: val RMSE {r.record.val_rmse:.4f}" in result.stdout
    assert "mean ± std (sample, n-1) over 2 split seeds" in result.stdout
    assert f"val RMSE  {statistics.fmean(rmses):.4f} ± {statistics.stdev(rmses):.4f}" in result.stdout
    ndcgs = [r.record.ranking.ndcg for r in runs]
    assert f"NDCG@10   {statistics.fmean(ndcgs):.4f} ± {statistics.stdev(ndcgs):.4f}" in result.stdout
    as_json = cli("train", "--data", SYNTH, "--epochs", "2", "--dim", "8", "--repeat", "2", "--json",
                  "--runs-dir", str(tmp_path / "again"))
    payload = json.loads(as_json.stdout)  # nothing but the JSON on stdout
    assert payload["split_seeds"] == [0, 1] and payload["n"] == 2
    assert payload["mean"]["rmse"] == pytest.approx(statistics.fmean(r["rmse"] for r in payload["runs"]))
    assert payload["std"]["rmse"] == pytest.approx(statistics.stdev(r["rmse"] for r in payload["runs"]))
    assert len(list_runs(tmp_path / "again")) == 2


@pytest.mark.parametrize("args, pattern", [
    (["--repeat", "0"], "--repeat needs 1 or more split seeds; got 0"),
    (["--repeat", "2", "--out", "m.pt"], "leave out --out"),
    (["--json"], "--json goes with --repeat"),
])
def test_bad_repeat_usage_is_one_error_line(args, pattern):
    assert_one_line_error(cli("train", "--data", SYNTH, *args), pattern)
