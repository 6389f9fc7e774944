"""One experiment, as the CLI, the dashboard's jobs and its sweeps all run it: train, keep the best
epoch, evaluate stars and lists (overall and by user activity and movie popularity), and record
where the data and the split came from.

The surfaces only draw progress (they iterate ``Experiment`` for records) and save the result
where they keep models; every run they produce carries the same metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cfcore.baselines import baseline_scores
from cfcore.buckets import error_by_bucket
from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.datastore import content_hash
from cfcore.mapframes import FIRST_EPOCH_MARKS, Snapshots, sample_items
from cfcore.metrics import mae, rmse
from cfcore.ratings import Ratings
from cfcore.recommender import Recommender
from cfcore.split import Split, SplitSettings
from cfcore.train import EpochRecord, Record, StepRecord, TrainingRun

MAX_STEP_POINTS = 1000  # per-step training losses kept with a run (evenly thinned), for the Runs page overlay


@dataclass(frozen=True)
class Evaluation:
    """How the lists are judged: the top ``k`` of each user's list, relevant when rated at least ``threshold``."""

    k: int = 10
    relevance_threshold: float = 4.0


class Experiment:
    """Train ``config`` on a split of ``dataset``; ``finish()`` evaluates and records the result.

    ``test``: ratings held out beyond validation (the CLI's ``--test``); when given, ranking and
    rating metrics are measured on it rather than on the validation ratings.
    """

    def __init__(self, dataset: Dataset, parts: Split, config: TrainConfig, split_settings: SplitSettings, *,
                 dataset_hash: str | None = None, test: Ratings | None = None,
                 evaluation: Evaluation = Evaluation()) -> None:
        self.dataset, self.parts, self.config = dataset, parts, config
        self.split_settings, self.test, self.evaluation = split_settings, test, evaluation
        self._dataset_hash = dataset_hash
        self.run = TrainingRun(parts.train, parts.val, config)
        self.ladder: dict[str, dict[str, float]] = {}  # ranking kind -> metrics, after finish()
        self.baselines: dict[str, float] = {}  # on the evaluated ratings (validation, or test), after finish()
        # the movie map over training: the most-rated movies' vectors after each epoch (and before the first)
        self.snapshots = Snapshots(sample_items(parts.train.item_counts()))
        self.step_log: list[tuple[int, float, float]] = []  # (step, train loss, seconds since start)

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

    def finish(self) -> Recommender | None:
        """The best model with every metric recorded in ``metrics``; None when no epoch finished."""
        rec = self.run.finish(self.dataset.catalog, self.dataset.name)
        if rec is None:
            return None
        rec.metrics["split"] = self.split_settings.to_dict()
        rec.metrics["step_loss"] = _thinned(self.step_log)
        rec.map_frames = self.snapshots.frames(rec.item_factors_, last_epoch=rec.metrics.get("best_epoch"))
        rec.metrics["dataset_hash"] = self._dataset_hash or content_hash(self.dataset.ratings)
        rec.metrics["relevance_threshold"] = self.evaluation.relevance_threshold
        rec.metrics["ranking_k"] = self.evaluation.k
        judged = self.test if self.test is not None else self.parts.val
        self.baselines = dict(self.run.baselines)
        if self.test is not None:
            pred = rec.predict_idx(self.test.user_idx, self.test.item_idx)
            rec.metrics["test_rmse"], rec.metrics["test_mae"] = rmse(pred, self.test.rating), mae(pred, self.test.rating)
            self.baselines = baseline_scores(self.parts.train, self.test)
        self.ladder = rec.record_ranking(judged, k=self.evaluation.k, threshold=self.evaluation.relevance_threshold)
        rec.metrics["error_by_bucket"] = error_by_bucket(rec, judged, self.evaluation.k,
                                                         self.evaluation.relevance_threshold,
                                                         ndcg_by_user=rec.judged_ndcg_)
        return rec


def _thinned(log: list[tuple[int, float, float]]) -> dict[str, list]:
    """At most MAX_STEP_POINTS of (step, loss, seconds), evenly spaced, the last one always kept."""
    if len(log) > MAX_STEP_POINTS:
        keep = np.unique(np.linspace(0, len(log) - 1, MAX_STEP_POINTS).round().astype(int))
        log = [log[i] for i in keep]
    return {"step": [s for s, _, _ in log], "train_loss": [loss for _, loss, _ in log],
            "seconds": [round(t, 3) for _, _, t in log]}
