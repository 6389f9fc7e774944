"""The progress records training yields: a step, an epoch, the end. Plain frozen values any surface can draw.

Kept apart from the loop (``train.py``) so that readers of a run (its record, the pages, a launcher on
another machine) need not import torch to know what a record is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepRecord:
    """Progress inside an epoch."""

    step: int  # optimiser steps so far, over all epochs
    epoch: int  # 1-based epoch this step belongs to
    epoch_progress: float  # 0..1 through the epoch
    train_loss: float  # mean squared error over the steps since the last record
    ratings_per_second: float
    kind: str = "step"


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch."""

    epoch: int
    train_loss: float  # mean batch MSE over the epoch (data term, without regularisation)
    train_rmse: float
    val_rmse: float
    val_mae: float
    learning_rate: float
    seconds: float
    ratings_per_second: float
    is_best: bool
    step: int = 0
    completed: float = 1.0  # share of the epoch trained: below 1 when Stop cut the first epoch short
    kind: str = "epoch"


@dataclass(frozen=True)
class EndRecord:
    """Training is over; ``reason`` says why."""

    reason: str  # "completed" | "early_stopping" | "diverged" | "stopped"
    message: str
    best_epoch: int | None
    best_val_rmse: float | None
    kind: str = "end"


Record = StepRecord | EpochRecord | EndRecord


@dataclass(frozen=True)
class RankerStepRecord:
    """Progress inside an epoch of a ranking model trained beside the rating model (the choice model)."""

    step: int  # its optimiser steps so far, over all epochs
    epoch: int
    epoch_progress: float  # 0..1 through the epoch
    loss: float  # its training loss (the choice model: nats per chosen item) over the steps since the last record
    kind: str = "ranker_step"


@dataclass(frozen=True)
class RankerEpochRecord:
    """One finished epoch of that ranking model, judged by the lists it makes."""

    epoch: int
    loss: float  # mean training loss over the epoch
    val_ndcg: float  # NDCG@k of its lists for a fixed sample of validation users (nan when none could be judged)
    users: int  # how many users that sample judged
    floor_ndcg: float  # most popular's NDCG@k on the same users: the floor its lists must beat
    seconds: float
    is_best: bool
    learning_rate: float
    completed: float = 1.0  # share of the epoch trained: below 1 when Stop cut it short
    kind: str = "ranker_epoch"


Progress = Record | RankerStepRecord | RankerEpochRecord
