"""One calibrated verdict per run: is it worth presenting, and if not, what it means and the likely cause.

A run whose predicted stars are worse than bias-only's (the average plus how generous each user and how liked
each movie is), or whose lists are worse than most popular's, is a model nobody should be shown; the Train page
says so with the cause the curve points to, and the Runs table marks it. Overfitting is a curve shape, the
validation RMSE climbing well above its best, not a gap between training and validation RMSE: matrix
factorisation fits its training ratings far better than held-out ones on every healthy run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from cfcore.config import TrainConfig
from cfcore.rankers import registry
from cfcore.rankers.mf import RatingModelRanker
from cfcore.records import RunRecord

Level = Literal["good", "warning", "bad"]

OVERFIT_RISE = 0.02  # validation RMSE this far above its best (relative) by the last epoch: overfitting. The
#                      recommended defaults on the built-in data end 0.8% above their best (early stopping's
#                      patience), a run left to memorise its ratings 5-10%
RECOMMENDED = TrainConfig()  # what the advice points to
STILL_FALLING = 0.002  # the last epoch improved validation RMSE by more than this: training stopped too soon


@dataclass(frozen=True)
class Verdict:
    """How a run should be presented: ``level``, a one-line ``headline``, the likely ``cause`` and a table ``mark``."""

    level: Level
    headline: str
    cause: str = ""
    mark: str = ""  # a few characters for a table column: "✓", "⚠ overfit", "✗ below bias-only", ...


def verdict(record: RunRecord) -> Verdict:
    """The verdict on ``record``: bad (diverged, stars worse than bias-only, lists worse than most popular),
    a warning (overfitting: validation RMSE rose well above its best), or good."""
    base = record.baselines.bias_rmse
    if record.stop_reason == "diverged" or not math.isfinite(record.val_rmse):
        return Verdict("bad", "Training diverged: the loss grew without bound, so this model's predictions are "
                              "not worth showing.",
                       f"The learning rate ({record.config.learning_rate:g}) is too high for this optimizer and "
                       "batch size; lower it, or turn on gradient clipping.", "✗ diverged")
    lists = _lists_below_floor(record)
    if math.isfinite(base) and record.val_rmse > base:
        headline = (f"Worse than bias-only: validation RMSE {record.val_rmse:.4f} against {base:.4f} for the "
                    "average plus how generous each user and how liked each movie is. Its predicted stars are "
                    "less accurate than that simple baseline: do not present it as the model.")
        return Verdict("bad", headline + (f" {lists}" if lists else ""), _stars_cause(record), "✗ below bias-only")
    if lists:
        return Verdict("bad", lists, _lists_cause(record), "✗ lists below popular")
    rise = _overfit(record)
    if rise is not None:
        best = min(record.epochs, key=lambda e: e.val_rmse)
        last = record.epochs[-1]
        return Verdict("warning", f"Overfitting: validation RMSE rose from its best {best.val_rmse:.4f} (epoch "
                                  f"{best.epoch}) to {last.val_rmse:.4f} by epoch {last.epoch}, {rise:.1%} worse.",
                       f"After epoch {best.epoch} the model memorised its training ratings instead of learning "
                       "taste. The run keeps that epoch's weights, so the numbers above are its; more weight decay, "
                       "dropout, a smaller embedding dimension or early stopping ends it sooner.", "⚠ overfit")
    if not math.isfinite(base):
        return Verdict("good", "No bias-only baseline was recorded for this run to compare with.", mark="")
    return Verdict("good", f"Beats bias-only by {base - record.val_rmse:.4f} RMSE"
                           + (" and most popular's lists." if record.ranking is not None and record.floor is not None
                              and record.ranking is not record.floor else "."), mark="✓")


def _lists_below_floor(record: RunRecord) -> str:
    """A sentence when this run's lists score a lower NDCG than most popular's on the same users, else ""."""
    own, floor = record.ranking, record.floor
    if own is None or floor is None or own is floor or not own.users:
        return ""
    if not (math.isfinite(own.ndcg) and math.isfinite(floor.ndcg)) or own.ndcg >= floor.ndcg:
        return ""
    return (f"Its lists are worse than most popular's: NDCG@{own.k} {own.ndcg:.3f} against {floor.ndcg:.3f} for "
            "giving everyone the most-rated movies.")


def _lists_cause(record: RunRecord) -> str:
    kind = record.ranking_kind
    if kind == RatingModelRanker.kind:
        return ("Ordering lists by predicted stars favours little-known movies with a few high ratings over what "
                f"people choose to watch; choose {registry.label(registry.default())} as the ranking model.")
    return (f"The {registry.label(kind)} ranking model did not learn enough from this split; its own settings "
            "(on the Train page, under Advanced) or more epochs may help.")


def _stars_cause(record: RunRecord) -> str:
    """The likeliest reason a run's stars lost to bias-only, read from its curve."""
    epochs, config = record.epochs, record.config
    if not epochs:
        return "It stopped before one epoch was finished; train for at least a few epochs."
    last, best = epochs[-1], min(epochs, key=lambda e: e.val_rmse)
    falling = len(epochs) >= 2 and epochs[-2].val_rmse - last.val_rmse > STILL_FALLING
    if record.stop_reason in ("completed", "stopped") and best is last and falling:
        return (f"Too few epochs for this learning rate ({config.learning_rate:g}): validation RMSE was still "
                f"falling at the last epoch ({epochs[-2].val_rmse:.4f} → {last.val_rmse:.4f}). Train more epochs"
                + (f" or raise the learning rate (the recommended preset uses {RECOMMENDED.learning_rate:g} with "
                   "row-wise Adam)." if config.learning_rate < RECOMMENDED.learning_rate else "."))
    if best.train_rmse >= record.baselines.bias_rmse and config.weight_decay > 0:
        return (f"Too much weight decay ({config.weight_decay:g}"
                + (", applied by dense Adam to every parameter at every step" if config.optimizer == "adam" else "")
                + f"): even on its training ratings the RMSE stayed at {best.train_rmse:.4f}, so the penalty kept "
                "the model from learning anything beyond the average. Lower the weight decay (the recommended "
                f"preset: {RECOMMENDED.weight_decay:g} with row-wise Adam).")
    return (f"It fitted its training ratings (RMSE {best.train_rmse:.4f}) but not held-out ones: it memorised "
            "from the first epochs. Raise the weight decay, or lower the embedding dimension or the learning rate.")


def _overfit(record: RunRecord) -> float | None:
    """How far (relative) the last epoch's validation RMSE ended above its best, when that is overfitting."""
    epochs = [e for e in record.epochs if math.isfinite(e.val_rmse)]
    if len(epochs) < 2:
        return None
    best = min(e.val_rmse for e in epochs)
    rise = epochs[-1].val_rmse / best - 1.0
    return rise if rise > OVERFIT_RISE else None
