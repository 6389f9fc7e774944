"""One experiment, as the CLI, the launchers (the dashboard's runs and sweeps) and the Python API run it: train the
rating model (and a ranking model trained beside it, epoch by epoch with the same knobs: the tuned model), keep
their best epochs, fit any other ranking model, evaluate stars and lists, and record it all.

The surfaces only draw progress (they iterate ``Experiment`` for records); ``finish()`` returns the run's
``RunRecord`` and leaves the fitted model (queries, carrying that record) in ``experiment.model``.

    from cfcore import fit, load_dataset
    model = fit(load_dataset("builtin:movielens"), epochs=10)   # the same, in one call
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from cfcore import resources
from cfcore.baselines import baseline_scores
from cfcore.buckets import error_by_bucket
from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.datastore import content_hash
from cfcore.errors import ConfigError
from cfcore.evaluation import ranking_ladder
from cfcore.mapframes import FIRST_EPOCH_MARKS, Snapshots, sample_items
from cfcore.metrics import mae, rmse
from cfcore.progress import EndRecord, EpochRecord, Progress, RankerEpochRecord, RankerStepRecord, StepRecord
from cfcore.queries import Recommender
from cfcore.rankers import registry
from cfcore.rankers.base import Ranker, RankerTrainer
from cfcore.rankers.mf import RatingModelRanker
from cfcore.ratings import Ratings
from cfcore.records import Baselines, DatasetRef, Evaluation, RunRecord, StepLoss, Where
from cfcore.split import Split, SplitSettings
from cfcore.train import TrainingRun

MAX_STEP_POINTS = 1000  # per-step training losses kept with a run (evenly thinned), for the Runs page overlay


class Experiment:
    """Train ``config`` on a split of ``dataset``; ``finish()`` fits the ranking model, evaluates and records.

    ``test``: ratings held out beyond validation (the CLI's ``--test``); when given, ranking and
    rating metrics are measured on it rather than on the validation ratings. ``launcher``: how the run
    was started, for its record (``Where``).
    """

    def __init__(self, dataset: Dataset, parts: Split, config: TrainConfig, split_settings: SplitSettings, *,
                 dataset_hash: str | None = None, test: Ratings | None = None,
                 evaluation: Evaluation = Evaluation(), launcher: str = "this process") -> None:
        self.dataset, self.parts, self.config = dataset, parts, config
        self.split_settings, self.test, self.evaluation, self.launcher = split_settings, test, evaluation, launcher
        self._dataset_hash = dataset_hash
        # stopping on NDCG alone: the stars train on until the lists stall (the run stops them then)
        self.run = TrainingRun(parts.train, parts.val,
                               config.replace(early_stopping=None) if config.stop_on == "ndcg" else config)
        self.ranker_kind = registry.get(config.ranking_model)
        self.trainer: RankerTrainer | None = self.ranker_kind.trainer(
            parts.train, parts.val, config, config.ranking_params, k=evaluation.k,
            threshold=evaluation.relevance_threshold)
        self.ranker_epochs: list[RankerEpochRecord] = []
        self._kept_rating = None  # the stars' weights at the lists' best epoch (stop_on "ndcg")
        self._kept_lists = None  # the lists' weights at the stars' best epoch (stop_on "rmse")
        self._lists_stopped = ""  # why the lists model stopped before the stars did
        # the ranking model is fitted on the CPU after training: a fit that cannot fit is refused now, not then
        self.ranker_kind.check_fits(parts.train.n_users, parts.train.n_items, config.ranking_params,
                                    resources.available_memory(torch.device("cpu")))
        # the movie map over training: the most-rated movies' vectors after each epoch (and before the first)
        self.snapshots = Snapshots(sample_items(parts.train.item_counts()))
        self.step_log: list[tuple[int, float, float]] = []  # (step, train loss, seconds since start)
        self.model: Recommender | None = None  # the fitted model, after finish()

    def __iter__(self) -> Iterator[Progress]:
        """The rating model's records, each of its epochs followed by the tuned model's epoch (when the ranking
        model trains beside it); one EndRecord last, once both are done."""
        started = time.perf_counter()
        self.snapshots.capture(0, self._item_vectors())
        self._marks = list(FIRST_EPOCH_MARKS)  # quarters of epoch 1 still to snapshot
        end = None
        for record in self.run:
            if isinstance(record, StepRecord):
                self.step_log.append((record.step, record.train_loss, time.perf_counter() - started))
            if isinstance(record, EndRecord):
                end = record  # held back: the lists model may still be training
                break
            self._snapshot(record, lists=False)
            yield record
            if isinstance(record, EpochRecord) and record.completed >= 1.0 and self._lists_training():
                yield from self._lists_epoch(record.epoch)
                if self.config.stop_on == "ndcg" and not self._lists_training() and self._lists_stopped:
                    end = self._stopped_by_lists()  # the lists decide when the run ends: the stars stop with them
                    break
        if self._lists_training() and self.config.stop_on == "both" and end is not None \
                and end.reason in ("completed", "early_stopping"):
            last = max((r.epoch for r in self.ranker_epochs), default=0)  # the stars stopped first: lists go on
            for epoch in range(last + 1, self.config.epochs + 1):
                yield from self._lists_epoch(epoch)
                if not self._lists_training():
                    break
        yield self._end(end)

    def _lists_training(self) -> bool:
        """Whether the tuned model still trains: not stopped, diverged, stalled, or tied to stalled stars."""
        t = self.trainer
        if t is None or self._lists_stopped or t.stopped:
            return False
        patience = self.config.early_stopping
        if self.config.stop_on != "rmse" and patience is not None and t.stale_epochs > patience:
            self._lists_stopped = (f"its NDCG@{self.evaluation.k} did not improve for {t.stale_epochs} epochs, "
                                   f"so it kept epoch {t.best_epoch}")
            return False
        return True

    def _stopped_by_lists(self) -> EndRecord:
        """The stars' end when the lists stalled (stop_on "ndcg"): they keep the lists' best epoch."""
        epoch = self._kept_rating[0] if self._kept_rating is not None else self.run.best_epoch
        rmse_then = next((r.val_rmse for r in self.run.history if r.epoch == epoch), self.run.best_val_rmse)
        return EndRecord("early_stopping", f"the lists' NDCG@{self.evaluation.k} stopped improving", epoch, rmse_then)

    def _lists_epoch(self, number: int) -> Iterator[Progress]:
        """One epoch of the tuned model, its records yielded; keeps the weights the stop policy asks for."""
        for record in self.trainer.epoch(number):
            self._snapshot(record, lists=True)
            yield record
            if isinstance(record, RankerEpochRecord):
                self.ranker_epochs.append(record)
                if record.is_best and self.config.stop_on == "ndcg":
                    self._kept_rating = (number, {k: v.detach().clone() for k, v in self.run.model.state_dict().items()})
                if self.config.stop_on == "rmse" and any(e.epoch == number and e.is_best for e in self.run.history):
                    self._kept_lists = (number, self.trainer.keep())

    def _snapshot(self, record: Progress, lists: bool) -> None:
        """The map over training follows the vectors that rank: the tuned model's when it trains, else the stars'."""
        if lists != (self.trainer is not None):
            return
        if isinstance(record, (StepRecord, RankerStepRecord)):
            if record.epoch == 1 and self._marks and self._marks[0] <= record.epoch_progress < 1:
                # labelled by where training really is (records come every few steps, not at the marks)
                self.snapshots.capture(round(record.epoch_progress, 2), self._item_vectors())
                self._marks = [m for m in self._marks if m > record.epoch_progress]  # a window may pass two marks
        elif isinstance(record, (EpochRecord, RankerEpochRecord)):  # a partial first epoch too: its weights are kept
            self.snapshots.capture(record.epoch, self._item_vectors())

    def _end(self, end: EndRecord | None) -> EndRecord:
        """The rating model's end, told with the lists model's."""
        if end is None:
            end = EndRecord("stopped", "stopped by the caller", self.run.best_epoch, self.run.best_val_rmse)
        t = self.trainer
        if t is None:
            return end
        if t.best_epoch is None:
            told = "the tuned model kept no epoch, so the rating model's own lists are shown"
        elif getattr(t, "diverged", False):
            told = (f"the tuned model's loss diverged: its learning rate ({self.config.learning_rate:g}) is probably too "
                    f"high; kept its epoch {t.best_epoch}")
        elif self._lists_stopped:
            told = f"the tuned model stopped early: {self._lists_stopped}"
        elif self._kept_lists is not None:
            told = f"the tuned model kept epoch {self._kept_lists[0]} (the stars' best: early stopping follows RMSE)"
        else:
            told = f"the tuned model kept epoch {t.best_epoch} (best NDCG@{self.evaluation.k})"
        self.run.end = EndRecord(end.reason, f"{end.message}; {told}", end.best_epoch, end.best_val_rmse)
        return self.run.end

    def _item_vectors(self) -> np.ndarray:
        if self.trainer is not None:
            return self.trainer.item_vectors()
        return self.run.model.item_embeddings.weight.detach().cpu().numpy()  # (I, D)

    def stop(self) -> None:
        self.run.stop()
        if self.trainer is not None:
            self.trainer.stop()

    def finish(self, on_stage: Callable[[str], None] = lambda what: None) -> RunRecord | None:
        """Fit the ranking model on the kept epoch, evaluate, and return the run's record (None when no
        epoch finished); the model is then ``self.model``. ``on_stage`` hears what it is doing, in words
        ("judging the lists ..."): on large data this takes a minute, and a bar at 100% must say why."""
        finish_started = time.perf_counter()
        on_stage("keeping the best epoch")
        if self._kept_rating is not None:  # stop_on "ndcg": the stars of the lists' best epoch
            self.run.keep(*self._kept_rating)
        rating = self.run.finish()
        if rating is None:
            return None
        train, ev, config = self.parts.train, self.evaluation, self.config
        started = time.perf_counter()
        if self.trainer is None and self.ranker_kind.slow_fit:
            on_stage(f"fitting the {registry.label(self.ranker_kind.kind)} ranking model")
        ranker = self._ranker(rating)
        if ranker.kind != config.ranking_model:  # the tuned model kept nothing: the stars' own lists
            config = config.replace(ranking_model=ranker.kind)
        # a trained ranking model's time is its epochs', beside the stars'; a fitted one's, the fit
        ranking_seconds = sum(r.seconds for r in self.ranker_epochs) if self.trainer is not None else \
            time.perf_counter() - started
        model = Recommender.build(rating, ranker, train, self.dataset.catalog, heldout=self.parts.val)
        judged = self.test if self.test is not None else self.parts.val
        scores = self.run.baselines if self.test is None else baseline_scores(train, self.test)
        on_stage("judging the lists beside " + ", ".join(registry.label(kind) for kind in registry.references()
                                                         if kind != ranker.kind))
        ladder = ranking_ladder(model, judged, ev.k, ev.relevance_threshold,
                                free_bytes=resources.available_memory(torch.device("cpu")))
        on_stage("measuring where it errs")
        buckets = error_by_bucket(model, judged, ev.k, ev.relevance_threshold,
                                  ndcg_by_user=(ladder.users, ladder.ndcg))
        best = self.run.best_record
        test_rmse = test_mae = None
        if self.test is not None:
            pred = model.predict_idx(self.test.user_idx, self.test.item_idx)
            test_rmse, test_mae = rmse(pred, self.test.rating), mae(pred, self.test.rating)
        ratings = self.dataset.ratings
        record = RunRecord(
            dataset=DatasetRef(self.dataset.name, self._dataset_hash or content_hash(ratings), len(ratings),
                               ratings.n_users, ratings.n_items),
            split=self.split_settings, config=config, evaluation=ev, epochs=tuple(self.run.history),
            best_epoch=best.epoch, val_rmse=best.val_rmse, val_mae=best.val_mae, stop_reason=self.run.end.reason,
            baselines=Baselines(**scores, noise_floor=self.dataset.noise_floor), ladder=ladder.rows,
            buckets=buckets,
            step_loss=_thinned(self.step_log), seconds=sum(r.seconds for r in self.run.history),
            ranking_seconds=ranking_seconds,
            where=Where(self.run.device_name, socket.gethostname(), self.launcher),
            partial=best.completed < 1.0, test_rmse=test_rmse, test_mae=test_mae, created=time.time(),
            ranker_epochs=tuple(self.ranker_epochs),
            ranker_best_epoch=self._lists_epoch_kept(),
            finish_seconds=time.perf_counter() - finish_started)
        # the map over training ends on the vectors that rank (the tuned model's), else the stars'
        shown = ranker.item_vectors() if self.trainer is not None and ranker.item_vectors() is not None else None
        frames = self.snapshots.frames(shown if shown is not None else rating.item_factors,
                                       last_epoch=record.ranker_best_epoch if shown is not None else best.epoch)
        self.model = model.with_record(record, frames)
        return record

    def _lists_epoch_kept(self) -> int | None:
        """The tuned model's epoch whose vectors rank: the stars' best under stop_on "rmse", else its own best."""
        if self.trainer is None or self.trainer.best_epoch is None:
            return None
        return self._kept_lists[0] if self._kept_lists is not None else self.trainer.best_epoch

    def _ranker(self, rating) -> Ranker:
        """The run's ranking model: the tuned model's kept epoch, or a kind fitted now on the training ratings."""
        if self.trainer is None:
            return self.ranker_kind.fit(self.parts.train, self.config.ranking_params, rating)
        if self.trainer.best_epoch is None:  # stopped (or diverged) before one epoch of it finished
            return RatingModelRanker(rating)
        if self._kept_lists is not None:  # stop_on "rmse": the lists of the stars' best epoch
            self.trainer.restore(self._kept_lists[1])
        return self.ranker_kind.from_trainer(self.trainer)


def fit(dataset: Dataset, config: TrainConfig | None = None, *, split: SplitSettings = SplitSettings(),
        evaluation: Evaluation = Evaluation(), **settings) -> Recommender:
    """Train on ``dataset`` and return the fitted model (its ``record`` says how well it did).

    ``config`` defaults to the recommended settings; ``settings`` override its fields by name
    (``fit(data, epochs=10, embedding_dim=32)``). ConfigError when no epoch could be kept.
    """
    config = (config or TrainConfig()).replace(**settings)
    experiment = Experiment(dataset, split.apply(dataset.ratings), config, split, evaluation=evaluation)
    for _ in experiment:
        pass
    if experiment.finish() is None:
        raise ConfigError(experiment.run.end.message if experiment.run.end else "no epoch finished")
    return experiment.model


def _thinned(log: list[tuple[int, float, float]]) -> StepLoss:
    """At most MAX_STEP_POINTS of (step, loss, seconds), evenly spaced, the last one always kept."""
    if len(log) > MAX_STEP_POINTS:
        keep = np.unique(np.linspace(0, len(log) - 1, MAX_STEP_POINTS).round().astype(int))
        log = [log[i] for i in keep]
    return StepLoss(tuple(s for s, _, _ in log), tuple(loss for _, loss, _ in log),
                    tuple(round(t, 3) for _, _, t in log))
