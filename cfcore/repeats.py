"""Repeats of one run's settings on other split seeds: which saved runs form a group, and each metric's mean ± spread.

A single split is one draw: "RMSE 0.8672" has a spread nobody sees until the same settings are trained on
other splits. A repeat changes only the split seed (``SplitSettings.seed``); every repeat's ``RunRecord``
carries the group id in ``group``, and the group id is the repeated run's own id, so that run is a member
whether or not its record says so (it was saved before anyone repeated it, and run.json is never rewritten).
The spread is the sample standard deviation (n - 1 in the denominator), the usual error bar for a handful of
seeds; one member has no spread (nan).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cfcore.records import RunRecord
from cfcore.runs import RunInfo

# what a repeat reports, by the record's name for it -> the Runs table's column
METRICS: dict[str, str] = {"rmse": "val RMSE", "ndcg": "NDCG@10", "precision": "P@10", "coverage": "coverage"}
RANKING_METRICS = ("precision", "recall", "ndcg", "coverage")  # a ladder row's metrics


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (n - 1) of one metric over ``n`` runs; std is nan when n < 2."""

    mean: float
    std: float
    n: int

    def text(self, digits: int = 3) -> str:
        """"0.867 ± 0.006"; the mean alone for one run, "–" for none."""
        if self.n == 0:
            return "–"
        if self.n == 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def spread(values: Iterable[float | None]) -> Spread:
    """The mean ± sample std of the finite values (a run that did not record a metric is left out)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return Spread(math.nan, math.nan, 0)
    std = statistics.stdev(finite) if len(finite) > 1 else math.nan
    return Spread(statistics.fmean(finite), std, len(finite))


def metric_value(record: RunRecord, name: str) -> float | None:
    """One of METRICS of a run: its validation RMSE, or a metric of its own lists (None when not recorded)."""
    if name == "rmse":
        return record.val_rmse
    return getattr(record.ranking, name) if record.ranking is not None else None


def summarize(records: Sequence[RunRecord]) -> dict[str, Spread]:
    """Each of METRICS over ``records``: name -> mean ± sample std."""
    return {name: spread(metric_value(r, name) for r in records) for name in METRICS}


def ladder_spread(records: Sequence[RunRecord]) -> dict[str, dict[str, Spread]]:
    """The ladder over ``records``: ranking kind -> metric -> mean ± sample std (kinds of the first record)."""
    if not records:
        return {}
    return {kind: {metric: spread(getattr(r.ladder[kind], metric) for r in records if kind in r.ladder)
                   for metric in RANKING_METRICS}
            for kind in records[0].ladder}


def next_seeds(base: int, used: Iterable[int], count: int) -> list[int]:
    """``count`` split seeds after ``base`` that the group has not used yet: base + 1, base + 2, ..."""
    if count < 1:
        raise ValueError(f"a repeat needs at least one more split seed; got {count}")
    taken, seeds, seed = set(used) | {base}, [], base
    while len(seeds) < count:
        seed += 1
        if seed not in taken:
            seeds.append(seed)
    return seeds


def group_id(info: RunInfo) -> str:
    """The group a repeat of ``info`` joins: its own group, or (not repeated yet) its run id."""
    return info.record.group if info.record is not None and info.record.group else info.run_id


@dataclass(frozen=True)
class RepeatGroup:
    """The saved runs of one setting on several split seeds: the repeated run first, then by seed."""

    group: str
    members: tuple[RunInfo, ...]

    @property
    def records(self) -> list[RunRecord]:
        return [m.record for m in self.members]

    @property
    def seeds(self) -> list[int | None]:
        return [r.split.seed if r.split is not None else None for r in self.records]

    @property
    def first(self) -> RunInfo:
        return self.members[0]

    def metrics(self) -> dict[str, Spread]:
        return summarize(self.records)

    def ladder(self) -> dict[str, dict[str, Spread]]:
        return ladder_spread(self.records)


def group_runs(infos: Sequence[RunInfo]) -> list[RepeatGroup]:
    """The groups of at least two readable runs among ``infos``, in the order their first member is listed."""
    readable = [r for r in infos if r.readable and r.record is not None]
    by_id = {r.run_id: r for r in readable}
    ids = list(dict.fromkeys(r.record.group for r in readable if r.record.group))
    groups = []
    for gid in ids:
        repeats = [r for r in readable if r.record.group == gid and r.run_id != gid]
        repeats.sort(key=lambda r: (r.record.split.seed if r.record.split else 0, r.run_id))
        members = ([by_id[gid]] if gid in by_id else []) + repeats
        if len(members) >= 2:
            groups.append(RepeatGroup(gid, tuple(members)))
    order = {r.run_id: i for i, r in enumerate(readable)}
    return sorted(groups, key=lambda g: min(order[m.run_id] for m in g.members))


def group_of(infos: Sequence[RunInfo], run_id: str) -> RepeatGroup | None:
    """The group ``run_id`` belongs to among ``infos``, if any."""
    return next((g for g in group_runs(infos) if any(m.run_id == run_id for m in g.members)), None)
