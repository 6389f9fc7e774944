"""A ranking model kind is one module: a throwaway kind written to a folder the registry reads shows up in the
CLI's choices and flags, trains from the CLI, round-trips through a checkpoint and is offered on the Train page,
without any other file being touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cfcore import checkpoint
from cfcore.rankers import registry

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "builtin:synthetic?n_ratings=6000&n_users=150&n_items=100&noise=0.3&seed=1"
RANDOM_KIND = '''
"""A throwaway ranking kind: every user gets seeded random scores (a sanity floor, nothing more)."""

from dataclasses import dataclass

import numpy as np

from cfcore.rankers.base import Ranker, RankerParams, setting, stored_array


@dataclass(frozen=True)
class RandomParams(RankerParams):
    seed: int = setting(7, low=0, high=1000, integer=True, label="Random seed", help="Which random lists.")


class RandomRanker(Ranker):
    kind = "random"
    label = "random (seeded)"
    summary = "Scores drawn at random."
    Params = RandomParams

    def __init__(self, scores):
        self.scores = scores  # (U, I)

    @classmethod
    def fit(cls, train, params, rating):
        rng = np.random.default_rng(params.seed)
        return cls(rng.random((train.n_users, train.n_items)).astype(np.float32))

    def score_users(self, user_idx):
        return self.scores[user_idx]

    def score_profile(self, item_idx, rating):
        return self.scores.mean(axis=0)

    def to_arrays(self):
        return {"scores": self.scores}

    @classmethod
    def from_arrays(cls, arrays, n_users, n_items):
        return cls(stored_array(arrays, "scores", (n_users, n_items)))
'''


@pytest.fixture
def kinds_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "kinds"
    folder.mkdir()
    (folder / "random_kind.py").write_text(RANDOM_KIND)
    monkeypatch.setenv(registry.PLUGIN_PATH, str(folder))
    return folder


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfcore", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def test_a_kind_module_in_a_plugin_folder_is_a_whole_ranking_model(kinds_folder, tmp_path):
    assert "random" in registry.names() and registry.label("random") == "random (seeded)"
    help_text = " ".join(cli("train", "--help").stdout.split())  # argparse wraps its lines where it likes
    assert "random: random (seeded)" in help_text and "--random-seed" in help_text

    trained = cli("train", "--data", SYNTH, "--epochs", "1", "--dim", "4", "--ranking-model", "random",
                  "--random-seed", "3", "--out", str(tmp_path / "m.pt"), "--metrics-json", str(tmp_path / "m.json"))
    assert trained.returncode == 0, trained.stderr
    assert "random (seeded) *" in trained.stdout  # its own row of the ladder, marked as what orders the lists
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["ranking_model"] == "random" and metrics["ranking_params"] == {"seed": 3}
    assert set(metrics["ranking_ladder"]) == {"popularity", "ease", "mf", "random"}  # beside the reference rungs

    model = checkpoint.load(tmp_path / "m.pt")  # through the checkpoint: the kind's own arrays, read back
    assert model.kind == "random" and model.record.config.ranking_params.seed == 3
    want = np.random.default_rng(3).random((model.n_users, model.n_items)).astype(np.float32)
    np.testing.assert_array_equal(model.ranker.score_users(np.arange(model.n_users)), want)
    again = checkpoint.load(checkpoint.to_bytes(model))
    assert again.recommend(model.users.index[0], 5).equals(model.recommend(model.users.index[0], 5))
    listed = cli("recommend", "--model", str(tmp_path / "m.pt"), "--user", str(model.users.index[0]), "-k", "3",
                 "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 3

    # without the plugin folder the kind is unknown: one clear line, not a traceback
    os.environ.pop(registry.PLUGIN_PATH)
    unknown = cli("recommend", "--model", str(tmp_path / "m.pt"), "--user", "1")
    assert unknown.returncode == 2
    assert "unknown ranking model kind 'random'; this CF Studio knows tuned, ease, mf, popularity" in unknown.stderr


def test_the_train_page_offers_the_plugin_kind_with_its_own_setting_and_trains_it(kinds_folder, tmp_path,
                                                                                  monkeypatch, small_synthetic):
    from cfcore.launch import registry as launchers
    from ui import state

    monkeypatch.setenv(launchers.ENV, "thread")  # the server's training helper was started without this folder
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[state.RUNS_DIR] = str(tmp_path / "runs")
    at.session_state[state.DATASET] = small_synthetic.dataset
    at.run()
    at.switch_page("views/train.py").run()
    choice = at.selectbox(key="train_ranking_model")
    assert "random (seeded)" in choice.options
    choice.set_value("random").run()
    assert not at.exception
    seed = at.number_input(key="train_random_seed")
    assert (seed.value, seed.min, seed.max, seed.label) == (7, 0, 1000, "Random seed")
    seed.set_value(11).run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    job = at.session_state[state.JOB]
    job.join(timeout=120)
    assert job.state.status == "done", job.state.message
    assert job.state.result.kind == "random" and job.state.result.record.config.ranking_params.seed == 11
    at.run()
    assert not at.exception
    assert "random (seeded) lists" in at.session_state[state.ACTIVE_MODEL].label
