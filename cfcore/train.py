"""The training loop of the rating model: a generator of progress records that the caller drives, stops and reads.

    run = TrainingRun(split.train, split.val, TrainConfig())
    for record in run:           # StepRecord every config.log_every steps, EpochRecord each epoch,
        ...                      # then one EndRecord; ``break`` (or run.stop()) ends training
    fitted = run.finish()        # the best-validation-epoch weights as a RatingModel (numpy), or None

It trains the rating model and nothing else; ``experiment.py`` fits the ranking model and evaluates.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from cfcore import resources
from cfcore.baselines import baseline_scores
from cfcore.config import TrainConfig
from cfcore.device import describe_device, resolve_device
from cfcore.errors import ConfigError
from cfcore.model import BiasedMF
from cfcore.progress import EndRecord, EpochRecord, Record, StepRecord
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings
from cfcore.resources import memory_needed
from cfcore.sizes import fits, human_bytes
from cfcore.steps import make_step

EVAL_BATCH = 1 << 16  # ratings per prediction batch: large, since evaluation needs no gradients


@dataclass
class _Best:
    epoch: int | None = None
    val_rmse: float = math.inf
    state: dict[str, torch.Tensor] = field(default_factory=dict)


def _typical(seconds: list[float]) -> float:
    """The median of whole epochs' seconds, leaving out the first (it pays one-off costs) when there are more."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


class TrainingRun:
    """One training run of BiasedMF on ``train``, validated on ``val`` after every epoch.

    Parameters
    ----------
    train, val : Ratings
        Over the same id maps; ``val`` may be empty-free only (at least one rating).
    config : TrainConfig
    """

    def __init__(self, train: Ratings, val: Ratings, config: TrainConfig = TrainConfig()) -> None:
        if len(train) == 0:
            raise ConfigError("the training set is empty")
        if len(val) == 0:
            raise ConfigError("the validation set is empty; hold out a larger fraction")
        self.train, self.val, self.config = train, val, config
        self.notes: list[str] = []  # settings adjusted before training, for the caller to show
        self.batch_size = config.batch_for(len(train))
        if self.batch_size < config.batch_size:
            self.notes.append(f"batch size {config.batch_size:,} is larger than the {len(train):,} training "
                              f"ratings; using {self.batch_size:,}")
        self.device = resolve_device(config.device)
        self.device_name = describe_device(self.device, config.optimizer)
        self._check_memory()
        self.history: list[EpochRecord] = []
        self.end: EndRecord | None = None
        self._best = _Best()
        self._stop_requested = False
        self._started = False

        torch.manual_seed(config.seed)
        scale = train.scale
        self.model = BiasedMF(train.n_users, train.n_items, config.embedding_dim, (scale.min, scale.max),
                              config.output).to(self.device)
        self.model.init_global_bias(float(train.rating.mean()))
        self._zero_unseen_rows()
        self.step_path = make_step(self.model, train, config, self.batch_size, self.device)
        self._schedulers = [torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=config.lr_factor,
                                                                       patience=config.lr_patience)
                            for opt in self.step_path.optimizers] if config.lr_patience is not None else []
        self._val = (torch.as_tensor(val.user_idx, dtype=torch.long, device=self.device),
                     torch.as_tensor(val.item_idx, dtype=torch.long, device=self.device),
                     torch.as_tensor(val.rating, dtype=torch.float32, device=self.device))

    def _check_memory(self) -> None:
        """Refuse, before allocating anything, a run whose weights and optimizer state cannot fit."""
        n_params, weights, optimizer, data = memory_needed(self.train.n_users, self.train.n_items, len(self.train),
                                                           len(self.val), self.config)
        total = weights + optimizer + data
        free = resources.available_memory(self.device)  # read at call time (tests set it)
        if not fits(total, free):
            raise ConfigError(
                f"this run needs about {human_bytes(total)} ({n_params:,} parameters: {human_bytes(weights)} of "
                f"weights, {human_bytes(optimizer)} of optimizer state and copies, {human_bytes(data)} of data) but "
                f"only {human_bytes(free)} is free on {self.device_name}; lower the embedding dimension "
                f"({self.config.embedding_dim}) or use a smaller dataset"
            )

    @functools.cached_property
    def baselines(self) -> dict[str, float]:
        """Global-mean and bias-only scores on the validation set (computed once, when first asked)."""
        return baseline_scores(self.train, self.val)

    # -- setup ------------------------------------------------------------------------------

    def _zero_unseen_rows(self) -> None:
        """Users/items with no training rating keep zero vectors, so they are predicted from what is known."""
        with torch.no_grad():
            for table, idx, n in ((self.model.user_embeddings, self.train.user_idx, self.train.n_users),
                                  (self.model.item_embeddings, self.train.item_idx, self.train.n_items)):
                unseen = np.bincount(idx, minlength=n) == 0
                if unseen.any():
                    table.weight[torch.as_tensor(unseen, device=self.device)] = 0.0

    # -- the loop ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def stop(self) -> None:
        """Ask the loop to end after the current step (safe to call from another thread)."""
        self._stop_requested = True

    def records(self) -> Iterator[Record]:
        """Train, yielding progress; ends with one EndRecord (unless the caller breaks first)."""
        if self._started:
            raise RuntimeError("a TrainingRun can be iterated once; create a new one to train again")
        self._started = True
        cfg = self.config
        n = len(self.train)
        steps_per_epoch = cfg.steps_per_epoch(n)
        step = 0
        no_improvement = 0
        reason, message = "completed", f"trained {cfg.epochs} epochs"
        for epoch in range(1, cfg.epochs + 1):
            self.model.train()
            started = time.perf_counter()
            order = self.step_path.shuffled()
            # a float or a 0-d device tensor (the torch paths' losses stay on the device until a window ends)
            epoch_loss = window_loss = 0.0
            window_steps = 0
            window_started = time.perf_counter()  # the shuffle counts in the epoch's time, not in a step rate
            diverged = False
            chunk = self.step_path.chunk  # batches per call; stop requests are honoured between calls
            for first_batch in range(0, steps_per_epoch, chunk):
                start, end = first_batch * self.batch_size, min(n, (first_batch + chunk) * self.batch_size)
                ran, loss_sum = self.step_path.run(order, start, end)
                batch = first_batch + ran - 1
                step += ran
                window_steps += ran
                window_loss = window_loss + loss_sum
                epoch_loss = epoch_loss + loss_sum
                last = batch == steps_per_epoch - 1
                if step // cfg.log_every != (step - ran) // cfg.log_every or last or self._stop_requested:
                    mean_loss = float(window_loss) / window_steps  # the one host read per window
                    now = time.perf_counter()
                    if not math.isfinite(mean_loss):
                        diverged = True
                        break
                    rate = window_steps * self.batch_size / max(now - window_started, 1e-9)
                    yield StepRecord(step, epoch, (batch + 1) / steps_per_epoch, mean_loss, rate)
                    window_loss, window_steps, window_started = 0.0, 0, time.perf_counter()
                if self._stop_requested:
                    break
            if diverged:
                reason, message = "diverged", self._divergence_message(epoch)
                break
            if self._stop_requested:
                if self._best.epoch is None:  # nothing kept yet: evaluate the weights so far, once, and keep them
                    done = (batch + 1) / steps_per_epoch
                    record = self._partial_epoch(epoch, done, epoch_loss / max(1, step), started, step)
                    if record is not None:
                        yield record
                        kept = (f"kept the weights after {done:.0%} of it as a partial run "
                                f"(validation RMSE {record.val_rmse:.4f})")
                    else:
                        kept = "its weights so far were not usable (not finite), so no model was kept"
                else:
                    kept = f"kept epoch {self._best.epoch}, the best so far"
                reason, message = "stopped", f"stopped during epoch {epoch}; {kept}"
                break
            seconds = time.perf_counter() - started
            train_loss = float(epoch_loss) / steps_per_epoch
            val_rmse, val_mae = self._evaluate()
            if not math.isfinite(val_rmse):
                reason, message = "diverged", self._divergence_message(epoch)
                break
            improved = val_rmse < self._best.val_rmse - 1e-5
            if improved:
                self._best = _Best(epoch, val_rmse, {k: v.detach().clone() for k, v in self.model.state_dict().items()})
                no_improvement = 0
            else:
                no_improvement += 1
            record = EpochRecord(epoch, train_loss, math.sqrt(train_loss), val_rmse, val_mae,
                                 self.step_path.optimizers[0].param_groups[0]["lr"], seconds, n / seconds, improved, step)
            self.history.append(record)
            yield record
            for scheduler in self._schedulers:
                scheduler.step(val_rmse)
            if cfg.early_stopping is not None and no_improvement > cfg.early_stopping:
                reason = "early_stopping"
                message = (f"validation RMSE did not improve for {no_improvement} epochs; "
                           f"stopped after epoch {epoch}")
                break
            if self._stop_requested:
                reason, message = "stopped", f"stopped after epoch {epoch}; kept epoch {self._best.epoch}, the best so far"
                break
        if reason == "completed":
            message = f"trained {cfg.epochs} epochs"
        self.end = EndRecord(reason, message, self._best.epoch,
                             self._best.val_rmse if self._best.epoch is not None else None)
        yield self.end

    def _partial_epoch(self, epoch: int, done: float, mean_loss, started: float, step: int) -> EpochRecord | None:
        """Evaluate the weights of an epoch cut short and keep them as the best (there is no other)."""
        seconds = time.perf_counter() - started
        train_loss = float(mean_loss)
        val_rmse, val_mae = self._evaluate()
        if not (math.isfinite(val_rmse) and math.isfinite(train_loss)):
            return None
        self._best = _Best(epoch, val_rmse, {k: v.detach().clone() for k, v in self.model.state_dict().items()})
        record = EpochRecord(epoch, train_loss, math.sqrt(max(train_loss, 0.0)), val_rmse, val_mae,
                             self.step_path.optimizers[0].param_groups[0]["lr"], seconds,
                             done * len(self.train) / max(seconds, 1e-9), True, step, completed=done)
        self.history.append(record)
        return record

    def time_epoch(self, budget_seconds: float = 1.5, max_steps: int = 1000) -> float:
        """Seconds one epoch of this run will take, from the training loop itself (this run is spent).

        Runs ``records()`` as training would (the epoch's shuffle, the same step path, the same
        records), stops after ``budget_seconds`` of steps or ``max_steps``, and extrapolates: shuffle
        and first records + the remaining steps at the measured pace + one validation pass (timed on
        the stopped epoch's evaluation). Epochs that fit in the budget are simply run, for half of it,
        and the median of all but the first is the answer (the first pays one-off costs; one epoch
        of 0.05 s can be 25% off by chance). The caller should warm up compiled kernels first.
        """
        steps_per_epoch = self.config.steps_per_epoch(len(self.train))
        started = epoch_started = time.perf_counter()
        first = last = None  # (time, step) of the first and the last step record
        eval_seconds = 0.0
        whole: list[float] = []  # seconds of each whole epoch run, when epochs are small
        for record in self.records():
            now = time.perf_counter()
            if record.kind == "step":
                if first is None:
                    first = (now, record.step)
                last = (now, record.step)
                whole_epochs_fit = steps_per_epoch <= max_steps and (now - started) * steps_per_epoch < \
                    budget_seconds * max(1, record.step)
                if not whole_epochs_fit and (record.step >= max_steps or now - first[0] > budget_seconds):
                    self.stop()
            elif record.kind == "epoch":
                eval_seconds = now - last[0] if last else 0.0
                if record.completed >= 1.0:  # a whole (small) epoch ran: epochs are the measurement
                    whole.append(now - epoch_started)
                    epoch_started = now
                    if now - started > budget_seconds / 2 or self.config.epochs == 1:
                        self.stop()
                        return _typical(whole)
        if whole:  # the run ended (all its epochs, or early stopping) inside the budget
            return _typical(whole)
        if first is None or last is None:
            return time.perf_counter() - started
        pace = (last[0] - first[0]) / max(1, last[1] - first[1])  # seconds per step
        return (first[0] - started) + pace * max(0, steps_per_epoch - first[1]) + eval_seconds

    def time_steps(self, n_steps: int = 20) -> float:
        """Mean seconds per optimiser step, timed on real batches (this run is spent afterwards)."""
        self._started = True
        order = self.step_path.shuffled()
        batches = [(s, s + self.batch_size) for s in range(0, min(len(self.train), (n_steps + 2) * self.batch_size),
                                                        self.batch_size)]
        for start, end in batches[:2]:  # warm-up: first calls allocate optimiser state
            self.step_path.run(order, start, end)
        self._sync()
        started = time.perf_counter()
        for start, end in batches[2:]:
            self.step_path.run(order, start, end)
        self._sync()
        return (time.perf_counter() - started) / max(1, len(batches) - 2)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.no_grad()
    def _evaluate(self) -> tuple[float, float]:
        """Validation RMSE and MAE, predicted in large batches on the device."""
        self.model.eval()
        users, items, ratings = self._val
        sq = torch.zeros((), dtype=torch.float64, device=self.device)
        ab = torch.zeros((), dtype=torch.float64, device=self.device)
        for start in range(0, len(ratings), EVAL_BATCH):
            batch = slice(start, start + EVAL_BATCH)
            diff = self.model(users[batch], items[batch]) - ratings[batch]
            sq += (diff.double() ** 2).sum()
            ab += diff.double().abs().sum()
        return math.sqrt(float(sq) / len(ratings)), float(ab) / len(ratings)

    def _divergence_message(self, epoch: int) -> str:
        kept = f"kept epoch {self._best.epoch}" if self._best.epoch else "no epoch finished, so no model was kept"
        return (f"training diverged in epoch {epoch}: the loss became NaN or infinite. The learning rate "
                f"({self.config.learning_rate:g}) is probably too high; try 10x lower. ({kept})")

    # -- results ----------------------------------------------------------------------------

    @property
    def best_epoch(self) -> int | None:
        return self._best.epoch

    @property
    def best_val_rmse(self) -> float | None:
        return self._best.val_rmse if self._best.epoch is not None else None

    def best_model(self) -> BiasedMF | None:
        """A CPU copy of the model at its best validation epoch (None before any epoch finished)."""
        if self._best.epoch is None:
            return None
        model = BiasedMF(**{**self.model.model_args(), "y_range": tuple(self.model.y_range)})
        model.load_state_dict({k: v.cpu() for k, v in self._best.state.items()})
        return model.eval()

    def keep(self, epoch: int, state: dict[str, torch.Tensor]) -> None:
        """Keep ``state`` (the model's weights after ``epoch``) instead of the best-RMSE epoch: the run chose
        its epoch by another measure (the lists' NDCG)."""
        record = next(r for r in self.history if r.epoch == epoch)
        self._best = _Best(epoch, record.val_rmse, state)

    @property
    def best_record(self) -> EpochRecord | None:
        """The kept epoch's record (None before any epoch finished)."""
        return next((r for r in self.history if r.epoch == self.best_epoch), None)

    def finish(self) -> RatingModel | None:
        """The best epoch's rating model in numpy (None when no epoch finished)."""
        if self.end is None:  # the caller broke out of the loop
            self.end = EndRecord("stopped", "stopped by the caller", self.best_epoch, self.best_val_rmse)
        model = self.best_model()
        return model.to_rating_model() if model is not None else None
