"""The record of one run: a frozen, versioned value saying what was trained on what, how, where, and how well.

``Experiment.finish`` returns it; ``runs.save_run`` writes it as ``run.json`` and the checkpoint carries
it, so pages, charts, the CLI's ``--metrics-json`` and reports read attributes, never string keys with
fallbacks. Runs written before the record existed (run.json version 1, checkpoint versions 1-2: flat
``config``/``metrics``/``history`` dicts) are read by ``RunRecord.from_legacy``, the one place that knows
their spellings.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field, fields

from cfcore.config import TrainConfig
from cfcore.progress import EpochRecord, RankerEpochRecord
from cfcore.rankers import registry
from cfcore.rankers.ease import EaseRanker
from cfcore.rankers.mf import RatingModelRanker
from cfcore.split import SplitSettings

RECORD_VERSION = 2  # 1: run.json held config, metrics and history as loose dicts (read by from_legacy)


@dataclass(frozen=True)
class Evaluation:
    """How the lists are judged: the top ``k`` of each user's list, relevant when rated at least ``threshold``."""

    k: int = 10
    relevance_threshold: float = 4.0


@dataclass(frozen=True)
class DatasetRef:
    """The data a run was trained on: its name, content hash (finds it again) and size (0: not recorded)."""

    name: str
    content_hash: str = ""
    n_ratings: int = 0
    n_users: int = 0
    n_items: int = 0


@dataclass(frozen=True)
class Baselines:
    """The reference predictors on the evaluated ratings, and the best any model can reach when known."""

    global_mean_rmse: float
    global_mean_mae: float
    bias_rmse: float
    bias_mae: float
    noise_floor: float | None = None  # synthetic data: its noise sigma

    def lines(self) -> dict[str, float]:
        """The RMSE lines a chart draws: global mean, bias only and (when known) the noise floor."""
        out = {"global_mean_rmse": self.global_mean_rmse, "bias_rmse": self.bias_rmse}
        return out | ({"noise_floor": self.noise_floor} if self.noise_floor is not None else {})


@dataclass(frozen=True)
class RankingRow:
    """One rung of the ladder: how good one ranking's top-k lists are on the judged users (nan: none judged)."""

    precision: float
    recall: float
    ndcg: float
    coverage: float
    users: int
    k: int = 10
    threshold: float = 4.0


@dataclass(frozen=True)
class BucketRow:
    """Held-out error of one group of users (by activity) or movies (by popularity); users also get NDCG."""

    side: str  # "users" | "movies"
    bucket: str  # "0 (new)", "1-5", ...
    ratings: int
    rmse: float
    mae: float
    users_ranked: int | None = None
    ndcg: float | None = None


@dataclass(frozen=True)
class StepLoss:
    """Per-step training losses (evenly thinned), with seconds since training started."""

    step: tuple[int, ...] = ()
    train_loss: tuple[float, ...] = ()
    seconds: tuple[float, ...] = ()


@dataclass(frozen=True)
class Where:
    """Where the run executed: the device, the machine, and (on a cluster) the node; how it was launched."""

    device: str = ""
    host: str = ""
    launcher: str = ""
    node: str = ""


@dataclass(frozen=True)
class RunRecord:
    """Everything a page, a chart, a report or a comparison knows about a run, its model aside."""

    dataset: DatasetRef
    split: SplitSettings | None  # None: not recorded (runs saved before splits were kept)
    config: TrainConfig  # the hyperparameters, the ranking kind and its parameters
    evaluation: Evaluation
    epochs: tuple[EpochRecord, ...]
    best_epoch: int
    val_rmse: float
    val_mae: float
    stop_reason: str  # EndRecord.reason
    baselines: Baselines
    ladder: dict[str, RankingRow] = field(default_factory=dict)  # ranking kind -> its row, on the same users
    buckets: tuple[BucketRow, ...] = ()
    step_loss: StepLoss = StepLoss()
    seconds: float = 0.0  # training epochs, summed
    ranking_seconds: float = 0.0  # fitting the ranking model
    finish_seconds: float = 0.0  # after the last epoch: fitting, judging the lists, measuring errors (0: unknown)
    where: Where = Where()
    partial: bool = False  # stopped inside the first epoch: the weights of part of it
    test_rmse: float | None = None
    test_mae: float | None = None
    created: float = 0.0  # seconds since 1970
    source: str = "trained"  # or "uploaded <file>"
    ranker_epochs: tuple[RankerEpochRecord, ...] = ()  # a ranking model trained beside the stars: its epochs
    ranker_best_epoch: int | None = None  # ... and the one it kept
    name: str = ""  # the person's name for the run (user text; label.json when saved)
    note: str = ""
    format_version: int = RECORD_VERSION
    group: str = ""  # repeats of one setting on other split seeds share this id (the repeated run's id); "" alone

    @property
    def ranking_kind(self) -> str:
        return self.config.ranking_model

    @property
    def ranking(self) -> RankingRow | None:
        """This run's own lists' row of the ladder."""
        return self.ladder.get(self.ranking_kind)

    @property
    def floor(self) -> RankingRow | None:
        """Most popular's row on the same users: the floor to beat."""
        return next((row for kind, row in self.ladder.items() if registry.is_floor(kind)), None)

    @property
    def ratings_per_second(self) -> float | None:
        """The median epoch's training rate."""
        rates = [e.ratings_per_second for e in self.epochs]
        return statistics.median(rates) if rates else None

    def labelled(self, name: str, note: str) -> RunRecord:
        return dataclasses.replace(self, name=name, note=note)

    # -- plain data ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain values only (for run.json and the checkpoint); ``from_dict`` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        """Read ``to_dict``'s output; TypeError/ValueError/KeyError when it is not one."""
        if data.get("format_version") != RECORD_VERSION:
            raise ValueError(f"run record format version {data.get('format_version')!r} (this CF Studio reads "
                             f"{RECORD_VERSION}, and older runs through their legacy fields)")
        values = dict(data)
        values["dataset"] = _plain(DatasetRef, data["dataset"])
        values["split"] = SplitSettings.from_dict(data["split"]) if data.get("split") else None
        values["config"] = TrainConfig.from_dict(data["config"])
        values["evaluation"] = _plain(Evaluation, data["evaluation"])
        values["epochs"] = tuple(_plain(EpochRecord, e) for e in data["epochs"])
        values["ranker_epochs"] = tuple(_plain(RankerEpochRecord, e) for e in data.get("ranker_epochs", ()))
        values["baselines"] = _plain(Baselines, data["baselines"])
        values["ladder"] = {str(kind): _row(row) for kind, row in data.get("ladder", {}).items()}
        values["buckets"] = tuple(_plain(BucketRow, b) for b in data.get("buckets", ()))
        values["step_loss"] = StepLoss(*(tuple(data.get("step_loss", {}).get(f.name) or ())
                                         for f in fields(StepLoss)))
        values["where"] = _plain(Where, data.get("where", {}))
        return _plain(cls, values)

    @classmethod
    def from_legacy(cls, config: dict, metrics: dict, history: list[dict], *, dataset: str = "", created: float = 0.0,
                    source: str = "trained") -> RunRecord:
        """A run saved before records existed: run.json version 1 or a checkpoint of version 1-2."""
        config = dict(config)
        # the oldest runs had no ranking model: their lists came from the rating model (mf)
        config["ranking_model"] = metrics.get("ranking_model") or config.get("ranking_model") or RatingModelRanker.kind
        if config["ranking_model"] == EaseRanker.kind:  # EASE's settings were spelled as the config's own then
            legacy = {"l2": config.pop("ranking_l2", None), "max_items": config.pop("ranking_max_items", None)}
            config["ranking_params"] = {k: v for k, v in legacy.items() if v is not None} or None
        k = int(metrics.get("ranking_k") or 10)
        threshold = float(metrics.get("relevance_threshold") or 4.0)
        ladder = dict(metrics.get("ranking_ladder") or {})
        if metrics.get("ranking") and config["ranking_model"] not in ladder:  # its own row, kept apart
            ladder[config["ranking_model"]] = metrics["ranking"]
        steps = metrics.get("step_loss") or {}
        split = metrics.get("split")
        return cls(
            dataset=DatasetRef(dataset, str(metrics.get("dataset_hash") or "")),
            split=SplitSettings.from_dict(split) if isinstance(split, dict) else None,
            config=TrainConfig.from_dict(config),
            evaluation=Evaluation(k, threshold),
            epochs=tuple(_plain(EpochRecord, h) for h in history),
            best_epoch=int(metrics["best_epoch"]),
            val_rmse=_number(metrics["val_rmse"]),
            val_mae=_number(metrics.get("val_mae")),
            stop_reason=str(metrics.get("stop_reason") or "completed"),
            baselines=Baselines(*(_number(metrics.get(f"baseline_{name}"))
                                  for name in ("global_mean_rmse", "global_mean_mae", "bias_rmse", "bias_mae"))),
            ladder={str(kind): _row({"k": k, "threshold": threshold, **row}) for kind, row in ladder.items()},
            buckets=tuple(_plain(BucketRow, b) for b in metrics.get("error_by_bucket") or ()),
            step_loss=StepLoss(tuple(steps.get("step") or ()), tuple(steps.get("train_loss") or ()),
                               tuple(steps.get("seconds") or ())),
            seconds=_number(metrics.get("seconds"), 0.0),
            ranking_seconds=_number(metrics.get("ranking_seconds"), 0.0),
            where=Where(device=str(metrics.get("device") or "")),
            partial=bool(metrics.get("partial", False)),
            test_rmse=_optional(metrics.get("test_rmse")),
            test_mae=_optional(metrics.get("test_mae")),
            created=float(created or 0.0),
            source=source,
        )


def _plain(cls, values: dict):
    """``cls`` from a dict of its fields, ignoring names it does not have (a newer file's additions)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in dict(values).items() if k in names})


def _number(value, default: float = math.nan) -> float:
    """A stored number; JSON writes NaN as null, which reads back as NaN (or ``default``)."""
    return default if value is None else float(value)


def _optional(value) -> float | None:
    return None if value is None else float(value)


def _row(values: dict) -> RankingRow:
    row = dict(values)
    for name in ("precision", "recall", "ndcg", "coverage"):
        row[name] = _number(row.get(name))
    row["users"] = int(row.get("users") or 0)
    return _plain(RankingRow, row)
