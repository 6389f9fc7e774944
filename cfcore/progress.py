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
