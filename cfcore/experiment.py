"""One experiment, as the CLI, the launchers (the dashboard's runs and sweeps) and the Python API run it: train the
rating model, keep its best epoch, fit the ranking model, evaluate stars and lists, and record it all.

The surfaces only draw progress (they iterate ``Experiment`` for records); ``finish()`` returns the run's
``RunRecord`` and leaves the fitted model (queries, carrying that record) in ``experiment.model``.

    from cfcore import fit, load_dataset
    model = fit(load_dataset("builtin:movielens"), epochs=10)   # the same, in one call
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

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
from cfcore.progress import EpochRecord, Record, StepRecord
from cfcore.queries import Recommender
from cfcore.rankers import registry
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
        self.run = TrainingRun(parts.train, parts.val, config)
        self.ranker_kind = registry.get(config.ranking_model)
        # the ranking model is fitted on the CPU after training: a fit that cannot fit is refused now, not then
        self.ranker_kind.check_fits(parts.train.n_users, parts.train.n_items, config.ranking_params,
                                    resources.available_memory(torch.device("cpu")))
        # the movie map over training: the most-rated movies' vectors after each epoch (and before the first)
        self.snapshots = Snapshots(sample_items(parts.train.item_counts()))
        self.step_log: list[tuple[int, float, float]] = []  # (step, train loss, seconds since start)
        self.model: Recommender | None = None  # the fitted model, after finish()

    def __iter__(self) -> Iterator[Record]:
        started = time.perf_counter()
        self.snapshots.capture(0, self._item_vectors())
        marks = list(FIRST_EPOCH_MARKS)  # quarters of epoch 1 still to snapshot
        for record in self.run:
            if isinstance(record, StepRecord):
                self.step_log.append((record.step, record.train_loss, time.perf_counter() - started))
                if record.epoch == 1 and marks and marks[0] <= record.epoch_progress < 1:
                    # labelled by where training really is (records come every log_every steps, not at the marks)
                    self.snapshots.capture(round(record.epoch_progress, 2), self._item_vectors())
                    marks = [m for m in marks if m > record.epoch_progress]  # a long window may pass two marks
            elif isinstance(record, EpochRecord):  # a partial first epoch too: its weights are the ones kept
                self.snapshots.capture(record.epoch, self._item_vectors())
            yield record

    def _item_vectors(self) -> np.ndarray:
        return self.run.model.item_embeddings.weight.detach().cpu().numpy()  # (I, D)

    def stop(self) -> None:
        self.run.stop()

    def finish(self) -> RunRecord | None:
        """Fit the ranking model on the kept epoch, evaluate, and return the run's record (None when no
        epoch finished); the model is then ``self.model``."""
        rating = self.run.finish()
        if rating is None:
            return None
        train, ev = self.parts.train, self.evaluation
        started = time.perf_counter()
        ranker = self.ranker_kind.fit(train, self.config.ranking_params, rating)
        ranking_seconds = time.perf_counter() - started
        model = Recommender.build(rating, ranker, train, self.dataset.catalog, heldout=self.parts.val)
        judged = self.test if self.test is not None else self.parts.val
        scores = self.run.baselines if self.test is None else baseline_scores(train, self.test)
        ladder = ranking_ladder(model, judged, ev.k, ev.relevance_threshold)
        best = self.run.best_record
        test_rmse = test_mae = None
        if self.test is not None:
            pred = model.predict_idx(self.test.user_idx, self.test.item_idx)
            test_rmse, test_mae = rmse(pred, self.test.rating), mae(pred, self.test.rating)
        ratings = self.dataset.ratings
        record = RunRecord(
            dataset=DatasetRef(self.dataset.name, self._dataset_hash or content_hash(ratings), len(ratings),
                               ratings.n_users, ratings.n_items),
            split=self.split_settings, config=self.config, evaluation=ev, epochs=tuple(self.run.history),
            best_epoch=best.epoch, val_rmse=best.val_rmse, val_mae=best.val_mae, stop_reason=self.run.end.reason,
            baselines=Baselines(**scores, noise_floor=self.dataset.noise_floor), ladder=ladder.rows,
            buckets=error_by_bucket(model, judged, ev.k, ev.relevance_threshold,
                                    ndcg_by_user=(ladder.users, ladder.ndcg)),
            step_loss=_thinned(self.step_log), seconds=sum(r.seconds for r in self.run.history),
            ranking_seconds=ranking_seconds,
            where=Where(self.run.device_name, socket.gethostname(), self.launcher),
            partial=best.completed < 1.0, test_rmse=test_rmse, test_mae=test_mae, created=time.time())
        frames = self.snapshots.frames(rating.item_factors, last_epoch=best.epoch)
        self.model = model.with_record(record, frames)
        return record


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
