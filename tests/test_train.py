"""The model and the training generator: known answers on synthetic data, records, stopping, divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cfcore import steps
from cfcore.config import PRESETS, SEED_PRESET, TrainConfig
from cfcore.errors import ConfigError
from cfcore.metrics import rmse
from cfcore.model import BiasedMF, count_parameters
from cfcore.progress import EndRecord, EpochRecord, StepRecord
from cfcore.split import split
from cfcore.train import TrainingRun

FAST = TrainConfig(embedding_dim=8, learning_rate=0.01, weight_decay=0.01, epochs=40, log_every=10)


@pytest.fixture(scope="module")
def synth_split(small_synthetic):
    return split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)


def _train(parts, config):
    run = TrainingRun(parts.train, parts.val, config)
    records = list(run)
    return run, records


def test_model_matches_seed_definition():
    torch.manual_seed(0)
    model = BiasedMF(1000, 2000, 50, (0.5, 5.0))
    assert abs(model.user_embeddings.weight.std().item() - 0.01) < 0.0005
    assert abs(model.item_embeddings.weight.std().item() - 0.01) < 0.0005
    assert model.user_biases.weight.abs().sum() == 0 and model.item_biases.weight.abs().sum() == 0
    assert sum(p.numel() for p in model.parameters()) == count_parameters(1000, 2000, 50)
    u, i = torch.tensor([0, 1]), torch.tensor([5, 6])
    with torch.no_grad():
        model.user_biases.weight[0] = 10.0  # pushes the first prediction above the scale
        expected = (model.user_embeddings(u) * model.item_embeddings(i)).sum(1) + model.user_biases(u)[:, 0] \
            + model.item_biases(i)[:, 0] + model.global_bias
        out = model(u, i)
    assert out[0] == 5.0  # clipped to the data's scale
    assert torch.allclose(out[1], expected[1].clamp(0.5, 5.0))


@pytest.mark.parametrize("optimizer", ["sparse_adam", "adam"])
def test_fits_low_rank_synthetic_near_noise_floor(synth_split, small_synthetic, optimizer):
    config = FAST.replace(optimizer=optimizer, weight_decay=0.01 if optimizer == "sparse_adam" else 0.0)
    run, records = _train(synth_split, config)
    noise = 0.3
    assert run.best_val_rmse < noise * 1.15, run.best_val_rmse
    bias_only = run.baselines["bias_rmse"]
    assert run.best_val_rmse < 0.6 * bias_only  # the interaction term is really learned
    rec = run.finish()
    val = synth_split.val
    assert math.isclose(rmse(rec.predict_idx(val.user_idx, val.item_idx), val.rating), run.best_val_rmse, rel_tol=1e-4)
    # the learned predictions track the true noise-free ratings
    truth = small_synthetic.true_rating(val.user_idx, val.item_idx)
    assert rmse(rec.predict_idx(val.user_idx, val.item_idx), truth) < 0.2


def test_records_sequence_and_history(synth_split):
    run, records = _train(synth_split, FAST.replace(epochs=3, early_stopping=None))
    kinds = [r.kind for r in records]
    assert kinds[-1] == "end" and kinds.count("epoch") == 3 and kinds.count("end") == 1
    steps_per_epoch = math.ceil(len(synth_split.train) / FAST.batch_size)
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert [e.epoch for e in epochs] == [1, 2, 3] and epochs[-1].step == 3 * steps_per_epoch
    steps = [r for r in records if isinstance(r, StepRecord)]
    assert len(steps) >= 3 * (steps_per_epoch // FAST.log_every)
    assert all(s.train_loss > 0 and s.ratings_per_second > 0 for s in steps)
    assert run.history == epochs and records[-1].reason == "completed"
    assert epochs[0].val_rmse > epochs[-1].val_rmse


def test_same_seed_same_numbers(synth_split):
    config = FAST.replace(epochs=2, device="cpu")
    a = [r.val_rmse for r in _train(synth_split, config)[1] if r.kind == "epoch"]
    b = [r.val_rmse for r in _train(synth_split, config)[1] if r.kind == "epoch"]
    c = [r.val_rmse for r in _train(synth_split, config.replace(seed=7))[1] if r.kind == "epoch"]
    assert a == b and a != c


def test_early_stopping_keeps_best_epoch(synth_split):
    # a large learning rate and no regularisation overfit fast, so validation turns up
    config = TrainConfig(embedding_dim=32, learning_rate=0.05, weight_decay=0.0, epochs=30, early_stopping=1,
                         lr_patience=None)
    run, records = _train(synth_split, config)
    assert records[-1].reason == "early_stopping"
    last = run.history[-1]
    assert last.epoch >= run.best_epoch + 2 and last.val_rmse > run.best_val_rmse
    rec = run.finish()
    val = synth_split.val
    assert math.isclose(rmse(rec.predict_idx(val.user_idx, val.item_idx), val.rating), run.best_val_rmse, rel_tol=1e-4)


def test_stop_after_any_record(synth_split):
    run = TrainingRun(synth_split.train, synth_split.val, FAST)
    for record in run:
        if record.kind == "step":
            break
    assert run.finish() is None  # no epoch finished: nothing to keep
    assert run.end.reason == "stopped"

    run = TrainingRun(synth_split.train, synth_split.val, FAST)
    seen = []
    for record in run:
        seen.append(record)
        if record.kind == "epoch":
            run.stop()
    assert seen[-1].kind == "end" and seen[-1].reason == "stopped" and run.best_epoch == 1
    assert run.finish() is not None


def test_stop_inside_the_first_epoch_keeps_a_partial_run(synth_split):
    run = TrainingRun(synth_split.train, synth_split.val, FAST.replace(log_every=2))
    seen = []
    for record in run:
        seen.append(record)
        if record.kind == "step" and record.step >= 4:
            run.stop()
    partial = [r for r in seen if r.kind == "epoch"]
    assert len(partial) == 1 and 0 < partial[0].completed < 1 and partial[0].epoch == 1
    assert seen[-1].reason == "stopped" and "partial run" in seen[-1].message
    rec = run.finish()
    assert rec is not None and run.best_record.completed < 1.0 and run.best_epoch == 1  # kept as a partial run
    val = synth_split.val  # evaluated once, on the weights as they were when Stop came
    assert math.isclose(rmse(rec.predict_idx(val.user_idx, val.item_idx), val.rating), run.best_val_rmse,
                        rel_tol=1e-4)
    assert run.best_val_rmse < run.baselines["global_mean_rmse"] + 0.5  # a model, not noise
    whole = TrainingRun(synth_split.train, synth_split.val, FAST.replace(epochs=1))
    list(whole)
    assert whole.finish() is not None and whole.best_record.completed == 1.0


def test_divergence_is_reported_and_best_model_kept(synth_split):
    run = TrainingRun(synth_split.train, synth_split.val, FAST.replace(epochs=5))
    records = []
    for record in run:
        records.append(record)
        if record.kind == "epoch" and record.epoch == 2:
            with torch.no_grad():
                run.model.global_bias.fill_(float("nan"))  # what a too-high learning rate ends in
    end = records[-1]
    assert isinstance(end, EndRecord) and end.reason == "diverged"
    assert "learning rate" in end.message and "epoch 3" in end.message and "kept epoch 2" in end.message
    rec = run.finish()
    assert np.isfinite(rec.predict_idx(synth_split.val.user_idx, synth_split.val.item_idx)).all()


def test_unseen_rows_have_zero_vectors(tiny_ratings):
    parts = split(tiny_ratings, "random", 0.5, seed=1)
    run = TrainingRun(parts.train, parts.val, TrainConfig(epochs=2, embedding_dim=4))
    list(run)
    rec = run.finish()
    unseen = np.bincount(parts.train.item_idx, minlength=3) == 0
    assert unseen.any()
    assert np.all(rec.item_factors[unseen] == 0) and np.all(rec.item_bias[unseen] == 0)


def test_batch_larger_than_data_is_clamped_with_note(tiny_ratings):
    parts = split(tiny_ratings, "random", 0.5, seed=1)
    run = TrainingRun(parts.train, parts.val, TrainConfig(batch_size=4096, epochs=1))
    assert run.batch_size == 3 and "larger than the 3 training ratings" in run.notes[0]


@pytest.mark.parametrize("optimizer", ["sparse_adam", "adam"])
def test_grad_clip_and_sigmoid_output(synth_split, optimizer):
    run, records = _train(synth_split, FAST.replace(epochs=2, grad_clip=0.5, output="sigmoid", optimizer=optimizer))
    assert records[-1].reason == "completed"
    preds = run.finish().predict_idx(synth_split.val.user_idx, synth_split.val.item_idx)
    scale = synth_split.train.scale
    span = scale.max - scale.min
    assert preds.min() >= scale.min - 0.05 * span - 1e-5 and preds.max() <= scale.max + 0.05 * span + 1e-5


def test_seed_preset_has_the_documents_values():
    assert (SEED_PRESET.learning_rate, SEED_PRESET.batch_size, SEED_PRESET.epochs, SEED_PRESET.weight_decay,
            SEED_PRESET.optimizer, SEED_PRESET.embedding_dim) == (0.001, 1024, 10, 0.01, "adam", 50)
    assert PRESETS["recommended"] == TrainConfig()


@pytest.mark.parametrize("field,value,pattern", [
    ("embedding_dim", 0, "embedding_dim must be between 1 and 4096; got 0"),
    ("embedding_dim", 100_000, "got 100000"),
    ("learning_rate", 0.0, "learning_rate must be between"),
    ("learning_rate", 1e6, "got 1000000.0"),
    ("epochs", 0, "epochs must be between"),
    ("batch_size", 2.5, "batch_size must be a whole number"),
    ("optimizer", "rmsprop", "optimizer must be one of sparse_adam, adam"),
    ("device", "tpu", "device must be one of"),
])
def test_config_refuses_absurd_values(field, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig(**{field: value})


def test_unavailable_device_is_refused(tiny_ratings):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    parts = split(tiny_ratings, "random", 0.5, seed=1)
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        TrainingRun(parts.train, parts.val, TrainConfig(device="cuda"))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_epoch_shuffle_is_a_uniform_permutation(monkeypatch, n_threads):
    from collections import Counter

    from cfcore import kernels

    monkeypatch.setattr(kernels, "SHUFFLE_BUCKET", 2)  # 4 ratings -> 2 buckets, so both stages are exercised
    monkeypatch.setattr(kernels, "threads", lambda: n_threads)
    users = np.arange(4, dtype=np.int64)
    out = np.empty(4, np.int32), np.empty(4, np.int32), np.empty(4, np.float32)
    rng = np.random.default_rng(0)
    seen = Counter()
    for _ in range(24_000):
        kernels.shuffle(rng, users, users + 10, users.astype(np.float32) / 2, *out)
        assert sorted(out[0]) == [0, 1, 2, 3]
        np.testing.assert_array_equal(out[1], out[0] + 10)  # the columns move together
        np.testing.assert_array_equal(out[2], out[0] / 2)
        seen[tuple(out[0])] += 1
    assert len(seen) == 24  # every order of 4 appears, each about 1,000 times (sd ~31)
    assert min(seen.values()) > 850 and max(seen.values()) < 1150, seen
    again = [np.empty(4, np.int32) for _ in range(2)]
    for target, seed in zip(again, (7, 7)):  # the generator alone decides the order
        kernels.shuffle(np.random.default_rng(seed), users, users, users.astype(np.float32), target, *out[1:])
    np.testing.assert_array_equal(*again)


@pytest.mark.parametrize("options", [{}, {"output": "sigmoid"}, {"grad_clip": 0.05}, {"dropout": 0.3}])
def test_compiled_step_gives_the_same_model_on_one_thread_and_on_several(synth_split, options):
    """The step is split between threads without locks: each row's gradient must still sum its ratings
    in batch order, so the trained model does not depend on the number of threads."""
    config = FAST.replace(epochs=2, early_stopping=None, **options)
    models = []
    for n_threads in (1, 3):  # 3 does not divide the batch evenly
        run = TrainingRun(synth_split.train, synth_split.val, config)
        run.step_path.optimizers[0].threads = n_threads
        list(run)
        models.append(run.model.state_dict())
    for name in models[0]:
        torch.testing.assert_close(models[0][name], models[1][name], rtol=0, atol=1e-6, msg=name)


@pytest.mark.parametrize("options", [{}, {"output": "sigmoid"}, {"grad_clip": 0.05}, {"weight_decay": 0.0},
                                     {"dropout": 0.3}])
def test_compiled_cpu_step_matches_the_torch_row_step(synth_split, monkeypatch, options):
    from cfcore import kernels

    config = FAST.replace(**options)
    compiled = TrainingRun(synth_split.train, synth_split.val, config)
    assert isinstance(compiled.step_path, steps.CompiledStep)
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    reference = TrainingRun(synth_split.train, synth_split.val, config)
    assert isinstance(reference.step_path, steps.RowStep)
    train = synth_split.train  # the same batches for both, in the data's own order
    as_numpy = (train.user_idx.astype(np.int32), train.item_idx.astype(np.int32), train.rating.astype(np.float32))
    as_torch = (torch.as_tensor(train.user_idx), torch.as_tensor(train.item_idx), torch.as_tensor(as_numpy[2]))
    for start in range(0, 5 * 1024, 1024):  # five steps, with repeated users and items inside batches
        ran_a, a = compiled.step_path.run(as_numpy, start, start + 1024)
        ran_b, b = reference.step_path.run(as_torch, start, start + 1024)
        assert ran_a == ran_b == 1 and float(a) == pytest.approx(float(b), rel=1e-5)
    for (name, x), (_, y) in zip(compiled.model.state_dict().items(), reference.model.state_dict().items()):
        diff = (x - y).abs()
        # float rounding differs (the compiled loop may reorder sums); Adam can turn a rounding-level
        # difference in a near-zero gradient into a step of up to lr, so bound the typical difference
        # tightly and the largest by the learning rate
        assert diff.mean() < 1e-6 and diff.max() <= config.learning_rate, (name, diff.mean(), diff.max())


def test_the_device_label_counts_the_threads_that_run_the_step(monkeypatch):
    """The Train page and the run say how many threads train: the compiled step's own count (the
    dashboard leaves a core for the page), not torch's, which only the seed's dense Adam uses."""
    from cfcore import kernels
    from cfcore.device import describe_device

    cpu = torch.device("cpu")
    monkeypatch.setattr(kernels, "threads", lambda: 1)
    n = torch.get_num_threads()
    torch_label = f"CPU ({n} thread{'s' if n != 1 else ''})"
    assert describe_device(cpu, "sparse_adam") == ("CPU (1 thread)" if kernels.AVAILABLE else torch_label)
    monkeypatch.setattr(kernels, "threads", lambda: 3)
    assert describe_device(cpu) == ("CPU (3 threads)" if kernels.AVAILABLE else torch_label)
    assert describe_device(cpu, "adam") == torch_label


def test_dropout_masks_drop_the_asked_share_and_keep_the_expected_score():
    from cfcore import dropout

    user_mask, item_mask = dropout.masks(seed=7, step=3, n=4000, dim=50, p=0.3, device="cpu")
    assert user_mask.shape == (4000, 50)
    assert user_mask.unique().tolist() == pytest.approx([0.0, 1 / 0.7])
    assert (user_mask == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert user_mask.mean().item() == pytest.approx(1.0, abs=0.02)  # scaled: the expected score is unchanged
    assert (user_mask != item_mask).any()  # the two sides drop different entries
    again, _ = dropout.masks(seed=7, step=3, n=4000, dim=50, p=0.3, device="cpu")
    other, _ = dropout.masks(seed=7, step=4, n=4000, dim=50, p=0.3, device="cpu")
    assert torch.equal(user_mask, again) and not torch.equal(user_mask, other)


@pytest.mark.parametrize("optimizer", ["sparse_adam", "adam"])
def test_dropout_changes_training_and_not_prediction(synth_split, optimizer):
    """Dropout is a training-time regulariser on every path: the weights it trains differ, and a
    trained model predicts from its whole vectors (the formula on the weights, the same every call)."""
    config = FAST.replace(epochs=2, early_stopping=None, optimizer=optimizer)
    plain, dropped = TrainingRun(synth_split.train, synth_split.val, config), \
        TrainingRun(synth_split.train, synth_split.val, config.replace(dropout=0.5))
    list(plain), list(dropped)
    a, b = plain.model.user_embeddings.weight, dropped.model.user_embeddings.weight
    assert not torch.allclose(a, b, atol=1e-4)
    model = dropped.best_model()
    users = torch.as_tensor(synth_split.val.user_idx[:500], dtype=torch.long)
    items = torch.as_tensor(synth_split.val.item_idx[:500], dtype=torch.long)
    with torch.no_grad():
        first, second = model(users, items), model(users, items)
        by_hand = model.apply_output((model.user_embeddings.weight[users] * model.item_embeddings.weight[items]).sum(1)
                                     + model.user_biases.weight[users, 0] + model.item_biases.weight[items, 0]
                                     + model.global_bias)
    assert torch.equal(first, second)
    torch.testing.assert_close(first, by_hand)
    rmse = dropped.best_val_rmse
    assert math.isfinite(rmse) and rmse < 1.5  # still learns


def test_dropout_out_of_range_is_refused_by_name():
    with pytest.raises(ConfigError, match="dropout must be between 0 and 0.9; got 1.0"):
        TrainConfig(dropout=1.0)


def test_batch_and_steps_per_epoch_are_one_helper():
    config = TrainConfig(batch_size=1024)
    assert (config.batch_for(100_000), config.steps_per_epoch(100_000)) == (1024, 98)
    assert (config.batch_for(500), config.steps_per_epoch(500)) == (500, 1)  # a batch never exceeds the data
    assert config.steps_per_epoch(2048) == 2 and config.steps_per_epoch(2049) == 3
