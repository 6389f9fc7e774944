"""The run verdict on hand-built records whose answer is known: the curves are those of real runs on the built-in
MovieLens sample (recommended defaults; dense Adam lr 0.01 / weight decay 0.08; the seed preset)."""

from __future__ import annotations

import math

from cfcore.config import SEED_PRESET, TrainConfig
from cfcore.progress import EpochRecord
from cfcore.records import Baselines, DatasetRef, Evaluation, RankingRow, RunRecord
from cfcore.verdict import verdict

BIAS = 0.8952  # bias-only RMSE on the built-in data's default split

# (train RMSE, validation RMSE) per epoch
DEFAULTS = [(1.0064, 0.9484), (0.8874, 0.8882), (0.808, 0.8713), (0.7315, 0.8672), (0.6494, 0.8692),
            (0.5764, 0.8726), (0.5163, 0.8735), (0.4928, 0.8745)]
HEAVY_DECAY = [(1.0484, 1.0516), (1.0471, 1.0514), (1.0474, 1.0517), (1.0472, 1.0511), (1.047, 1.0522),
               (1.0472, 1.0526), (1.0471, 1.0519), (1.0469, 1.0522)]
SEED_CURVE = [(1.21, 1.25), (1.12, 1.17), (1.08, 1.12), (1.06, 1.09), (1.04, 1.07), (1.03, 1.05),
              (1.02, 1.03), (1.01, 1.02), (1.0, 1.011), (0.99, 1.0007)]
MEMORISED = [(0.95, 0.93), (0.80, 0.92), (0.60, 0.95), (0.45, 0.99), (0.35, 1.02)]


def record(curve, config: TrainConfig = TrainConfig(), stop_reason: str = "early_stopping", ladder=None) -> RunRecord:
    epochs = tuple(EpochRecord(n, t * t, t, v, v * 0.78, config.learning_rate, 1.0, 1e5, False, n * 80)
                   for n, (t, v) in enumerate(curve, start=1))
    best = min(epochs, key=lambda e: e.val_rmse)
    return RunRecord(DatasetRef("MovieLens sample"), None, config, Evaluation(), epochs, best.epoch, best.val_rmse,
                     best.val_mae, stop_reason, Baselines(1.12, 0.94, BIAS, 0.75), ladder=ladder or {})


def row(ndcg: float) -> RankingRow:
    return RankingRow(precision=ndcg / 2, recall=ndcg, ndcg=ndcg, coverage=0.05, users=620)


def test_the_recommended_defaults_on_the_built_in_data_are_good_with_no_overfitting_note():
    v = verdict(record(DEFAULTS, TrainConfig(ranking_model="ease"), ladder={"ease": row(0.25), "popularity": row(0.107)}))
    assert v.level == "good" and v.mark == "✓"
    assert "Beats bias-only by 0.0280" in v.headline and "most popular" in v.headline
    assert "verfit" not in v.headline + v.cause


def test_a_run_worse_than_bias_only_from_heavy_weight_decay_is_bad_and_blames_the_decay():
    bad = TrainConfig(optimizer="adam", learning_rate=0.01, weight_decay=0.08, batch_size=2048, embedding_dim=32)
    v = verdict(record(HEAVY_DECAY, bad))
    assert v.level == "bad" and v.mark == "✗ below bias-only"
    assert "validation RMSE 1.0511 against 0.8952" in v.headline and "do not present it" in v.headline
    assert v.cause.startswith("Too much weight decay (0.08, applied by dense Adam to every parameter")


def test_the_seed_preset_still_falling_at_its_last_epoch_is_blamed_on_too_few_epochs():
    v = verdict(record(SEED_CURVE, SEED_PRESET, stop_reason="completed"))
    assert v.level == "bad"
    assert v.cause.startswith("Too few epochs for this learning rate (0.001)") and "1.0110 → 1.0007" in v.cause


def test_a_run_at_the_recommended_learning_rate_still_falling_is_told_to_train_longer_not_faster():
    v = verdict(record([(1.3, 1.45), (1.2, 1.33), (1.1, 1.20)], stop_reason="completed"))
    assert v.cause.endswith("(1.3300 → 1.2000). Train more epochs.")


def test_a_run_that_memorised_from_the_first_epochs_is_bad_and_says_so():
    v = verdict(record(MEMORISED))
    assert v.level == "bad" and "memorised from the first epochs" in v.cause


def test_overfitting_is_a_validation_curve_that_rose_well_above_its_best():
    # healthy stars, but validation climbed 0.8600 -> 0.8900 (3.5%) after epoch 2
    v = verdict(record([(0.95, 0.88), (0.80, 0.86), (0.60, 0.87), (0.40, 0.89)], stop_reason="completed"))
    assert v.level == "warning" and v.mark == "⚠ overfit"
    assert v.headline == ("Overfitting: validation RMSE rose from its best 0.8600 (epoch 2) to 0.8900 by epoch 4, "
                          "3.5% worse.")


def test_lists_worse_than_most_popular_are_bad_even_when_the_stars_are_good():
    config = TrainConfig(ranking_model="mf")
    v = verdict(record(DEFAULTS, config, ladder={"mf": row(0.052), "popularity": row(0.107)}))
    assert v.level == "bad" and v.mark == "✗ lists below popular"
    assert "NDCG@10 0.052 against 0.107" in v.headline and "ranking model" in v.cause


def test_a_diverged_run_is_bad_and_blames_the_learning_rate():
    v = verdict(record([(1.0, 0.95), (math.nan, math.nan)], TrainConfig(learning_rate=1.0), stop_reason="diverged"))
    assert v.level == "bad" and v.mark == "✗ diverged" and "learning rate (1)" in v.cause
