"""The CLI end to end, as a user runs it: outputs, files written, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cfcore.synthetic import SyntheticSpec, generate

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "builtin:synthetic?n_ratings=6000&n_users=150&n_items=100&noise=0.3&seed=1"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfcore", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


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
    assert rows[0]["similarity"] >= rows[1]["similarity"] >= rows[2]["similarity"]


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
    assert_one_line_error(cli("recommend", "--model", str(out / "m.pt"), "--user", "nobody"), "unknown user_id 'nobody'")
    assert_one_line_error(cli("similar", "--model", str(out / "m.pt"), "--item", "12345"), "unknown item_id")
    assert_one_line_error(cli("recommend", "--model", str(out / "m.pt"), "--user", "1", "-k", "0"), "-k must be at least 1")
