"""One experiment, as the CLI, the dashboard's jobs and its sweeps all run it: train, keep the best
epoch, evaluate stars and lists (overall and by user activity and movie popularity), and record
where the data and the split came from.

The surfaces only draw progress (they iterate ``Experiment`` for records) and save the result
where they keep models; every run they produce carries the same metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cfcore.baselines import baseline_scores
from cfcore.buckets import error_by_bucket
from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.datastore import content_hash
from cfcore.metrics import mae, rmse
from cfcore.ratings import Ratings
from cfcore.recommender import Recommender
from cfcore.split import Split, SplitSettings
from cfcore.train import Record, TrainingRun


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

    def __iter__(self) -> Iterator[Record]:
        return iter(self.run)

    def stop(self) -> None:
        self.run.stop()

    def finish(self) -> Recommender | None:
        """The best model with every metric recorded in ``metrics``; None when no epoch finished."""
        rec = self.run.finish(self.dataset.catalog, self.dataset.name)
        if rec is None:
            return None
        rec.metrics["split"] = self.split_settings.to_dict()
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
                                                         self.evaluation.relevance_threshold)
        return rec
