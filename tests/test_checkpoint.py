"""Checkpoints: identical predictions after a round trip; anything else is refused and never executed."""

from __future__ import annotations

import os
import pathlib
import pickle

import numpy as np
import pytest
import torch

from cfcore import checkpoint
from cfcore.config import TrainConfig
from cfcore.errors import CheckpointError
from cfcore.split import split
from tests.conftest import fit


@pytest.fixture(scope="module")
def fitted(small_synthetic):
    parts = split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)
    return fit(small_synthetic.dataset, TrainConfig(embedding_dim=12, epochs=3)), parts


def test_round_trip_gives_identical_predictions(fitted, tmp_path):
    rec, parts = fitted
    path = checkpoint.save(rec, tmp_path / "sub" / "model.pt")
    loaded = checkpoint.load(path)
    val = parts.val
    assert np.array_equal(rec.predict_idx(val.user_idx, val.item_idx), loaded.predict_idx(val.user_idx, val.item_idx))
    assert loaded.record.config == rec.record.config and loaded.rating.dim == 12
    assert loaded.recommend(1, 10).equals(rec.recommend(1, 10))
    assert loaded.similar_items(5, 5).equals(rec.similar_items(5, 5))
    assert loaded.record == rec.record
    assert loaded.catalog.frame.equals(rec.catalog.frame)
    assert checkpoint.load(checkpoint.to_bytes(rec)).predict([1], [1]) == rec.predict([1], [1])
    # plain data: loads with the restricted unpickler by itself
    data = torch.load(path, weights_only=True)
    assert data["format"] == "cfstudio-checkpoint" and data["model_args"]["embedding_dim"] == 12
    assert not list(tmp_path.glob("sub/.model.pt.*"))  # no temporary file left behind


class _Payload:
    """Pickles to a call that creates a file: the classic malicious-checkpoint trick."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_crafted_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil_torch = tmp_path / "evil.pt"
    torch.save({"format": "cfstudio-checkpoint", "payload": _Payload(marker)}, evil_torch)
    evil_pickle = tmp_path / "evil.pkl"
    evil_pickle.write_bytes(pickle.dumps(_Payload(marker)))
    assert not marker.exists()
    for path in (evil_torch, evil_pickle):
        with pytest.raises(CheckpointError, match="not a CF Studio checkpoint"):
            checkpoint.load(path)
        with pytest.raises(CheckpointError):
            checkpoint.load(path.read_bytes())
    assert not marker.exists()


def test_other_format_version_and_shapes(fitted, tmp_path):
    rec, _ = fitted
    data = checkpoint.to_dict(rec)
    path = tmp_path / "v.pt"
    torch.save({**data, "format_version": 99}, path)
    with pytest.raises(CheckpointError, match="format version 99; this CF Studio reads versions 1, 2, 3"):
        checkpoint.load(path)
    state = dict(data["state_dict"])
    state["item_embeddings.weight"] = torch.zeros(3, 12)
    torch.save({**data, "state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"item_embeddings.weight: expected \(300, 12\), found \(3, 12\)"):
        checkpoint.load(path)
    torch.save({"model_state_dict": data["state_dict"]}, path)  # the seed document's format
    with pytest.raises(CheckpointError, match="not a CF Studio checkpoint"):
        checkpoint.load(path)
    data_missing = {k: v for k, v in data.items() if k != "user_ids"}
    torch.save(data_missing, path)
    with pytest.raises(CheckpointError, match="missing user_ids"):
        checkpoint.load(path)


@pytest.mark.parametrize("content", [b"", b"hello", os.urandom(4096), b"PK\x03\x04" + os.urandom(200)])
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a CF Studio checkpoint"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")


def test_run_json_is_strict_json_with_undefined_metrics(fitted, tmp_path):
    """A saved run whose ranking metrics are undefined (NaN in memory, nested two levels deep) writes
    null, and reads back with the defined numbers intact."""
    import json
    from dataclasses import replace

    from cfcore.records import RankingRow
    from cfcore.runs import read_run, save_run

    rec, _ = fitted
    nan = float("nan")
    own = RankingRow(nan, nan, nan, 0.25, 0)
    rec = rec.with_record(replace(rec.record, ladder={"popularity": replace(own, coverage=nan), rec.kind: own}))
    run = save_run(tmp_path, rec)

    def refuse(constant):
        raise AssertionError(f"bare {constant} in run.json")

    meta = json.loads((run.path / "run.json").read_text(), parse_constant=refuse)
    assert meta["ladder"][rec.kind] == {"precision": None, "recall": None, "ndcg": None, "coverage": 0.25, "users": 0,
                                        "k": 10, "threshold": 4.0}
    assert meta["ladder"]["popularity"]["ndcg"] is None
    again = read_run(run.path)
    assert again.readable and again.record.val_rmse == pytest.approx(rec.record.val_rmse)
    assert again.record.ranking.coverage == 0.25 and np.isnan(again.record.ranking.ndcg)


FIXTURE_RUN = pathlib.Path(__file__).parent / "fixtures" / "run_v1"  # saved by CF Studio 0.13.0 (before records)


def test_a_run_saved_before_run_records_still_lists_and_loads(tmp_path):
    """run.json version 1 (loose config/metrics/history) and checkpoint version 2, as written by the code before
    the record, read into the same typed record: every number as it was saved."""
    import json
    import shutil

    from cfcore.runs import list_runs, load_run

    old = json.loads((FIXTURE_RUN / "run.json").read_text())
    shutil.copytree(FIXTURE_RUN, tmp_path / old["run_id"])
    [info] = list_runs(tmp_path)
    record = info.record
    assert info.readable and info.run_id == "20261205-120000-abc123"
    assert record.dataset.name == old["dataset"] == "synthetic 3,000"
    assert record.dataset.content_hash == old["metrics"]["dataset_hash"]
    assert record.val_rmse == old["metrics"]["val_rmse"] and record.best_epoch == old["metrics"]["best_epoch"] == 3
    assert record.baselines.bias_rmse == old["metrics"]["baseline_bias_rmse"]
    assert record.ranking_kind == "ease" and record.config.ranking_params.l2 == old["config"]["ranking_l2"]
    assert record.config.embedding_dim == 4 and record.split.fraction == 0.1
    assert record.ranking.ndcg == old["metrics"]["ranking"]["ndcg"]
    assert set(record.ladder) == set(old["metrics"]["ranking_ladder"]) == {"popularity", "mf", "ease"}
    assert [b.rmse for b in record.buckets] == [b["rmse"] for b in old["metrics"]["error_by_bucket"]]
    assert [e.val_rmse for e in record.epochs] == [h["val_rmse"] for h in old["history"]]
    assert list(record.step_loss.train_loss) == old["metrics"]["step_loss"]["train_loss"]
    model = load_run(tmp_path, info.run_id)  # the version-2 checkpoint beside it
    assert model.kind == "ease" and model.record.val_rmse == record.val_rmse
    assert len(model.recommend(model.users.index[0], 5)) == 5
    old_model = torch.load(FIXTURE_RUN / "model.pt", weights_only=True)
    assert old_model["format_version"] == 2  # the fixture really is the older format
