"""The launcher protocol: hand a run to somewhere it can execute, follow its records, stop it, collect its result.

    handle = launcher.launch(request)
    for message in handle.records():   # Started, StepRecord/Steps, EpochRecord, EndRecord, Stage..., then
        ...                            # Finished or Failed; None when a poll passed without one
    result = handle.result()           # RunResult: the run's record and its model as plain data
    handle.stop()                      # from any thread: the run stops after its current step and still finishes

The result comes back as data (the record and the checkpoint's bytes), so a launcher on another
machine needs no shared disk: the caller saves the run folder (``runs.save_run``). ``run_request`` is the
work itself, the same wherever it runs.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from cfcore import checkpoint
from cfcore.config import TrainConfig
from cfcore.data.dataset import Dataset
from cfcore.errors import CFError
from cfcore.experiment import Experiment
from cfcore.progress import EndRecord, EpochRecord, RankerEpochRecord, RankerStepRecord, StepRecord
from cfcore.queries import Recommender
from cfcore.ratings import Ratings
from cfcore.records import Evaluation, RunRecord
from cfcore.split import Split, SplitSettings
from cfcore.train import TrainingRun


@dataclass(frozen=True)
class LaunchRequest:
    """Everything one run needs: the data, its split, the settings and how its lists are judged."""

    dataset: Dataset
    parts: Split
    config: TrainConfig
    split_settings: SplitSettings = SplitSettings()
    dataset_hash: str = ""
    evaluation: Evaluation = Evaluation()
    keep_in: str = ""  # a runs folder on the training machine for a result nobody is left to collect ("" = none)
    test: Ratings | None = None  # a separate test file's ratings on the split's id maps (``with_test_set``)


@dataclass(frozen=True, eq=False)
class RunResult:
    """A finished run as data: its record and its model as checkpoint bytes (plain tensors and values, read
    back with the restricted unpickler wherever they were made)."""

    record: RunRecord
    model: bytes

    @classmethod
    def of(cls, model: Recommender) -> RunResult:
        return cls(model.record, checkpoint.to_bytes(model))

    def load(self) -> Recommender:
        """The model, rebuilt and checked as a checkpoint file is."""
        return checkpoint.load(self.model, label=f"the run's result ({self.record.dataset.name})")


@dataclass(frozen=True)
class Started:
    """The run is set up (data on its device, baselines known) and about to take its first step."""

    device: str
    notes: list[str]
    baselines: dict[str, float]
    pid: int  # the process that trains
    where: str = ""  # the launcher's description


@dataclass(frozen=True)
class Steps:
    """Step records of the last moments, with the wall-clock time each was made at."""

    records: list[StepRecord | RankerStepRecord]
    times: list[float]


@dataclass(frozen=True)
class Stage:
    """After the last epoch: what the run is doing now ("fitting the EASE ranking model"), so a page can say it."""

    what: str


@dataclass(frozen=True, eq=False)
class Finished:
    """The run ended; ``result`` holds it when an epoch (or part of one) was kept."""

    reason: str  # EndRecord.reason: completed | early_stopping | stopped | diverged
    message: str
    result: RunResult | None


@dataclass(frozen=True)
class Failed:
    """The run could not train; ``message`` says why, ``detail`` is for the log."""

    message: str
    detail: str = ""


Message = (Started | StepRecord | RankerStepRecord | Steps | EpochRecord | RankerEpochRecord | EndRecord | Stage
           | Finished | Failed)


class Handle(Protocol):
    """One launched run."""

    def records(self, poll_seconds: float = 0.25) -> Iterator[Message | None]:
        """Each message as it arrives, and None every ``poll_seconds`` without one (so the caller can check on
        whoever watches); ends after ``Finished`` or ``Failed``."""

    def stop(self) -> None:
        """Ask the run to stop after its current step (it still evaluates and returns what it kept)."""

    def result(self) -> RunResult | None:
        """The finished run (None when it failed or kept nothing); valid once ``records()`` has ended."""


class Launcher(Protocol):
    """A place runs execute: this machine in a process of its own, a thread, a cluster node, ..."""

    name: str

    def describe(self) -> str:
        """Where runs go and with what, for the UI ("this machine, a process of its own, 1 training thread")."""

    def prepare(self) -> None:
        """Get ready ahead of the first run (start helpers), off the caller's thread; may do nothing."""

    def copy_bytes(self, dataset: Dataset, parts: Split) -> int:
        """Memory a run's own copy of the data takes on this machine (0 when it trains on the caller's copy or
        elsewhere): the Train page's estimate counts it."""

    def launch(self, request: LaunchRequest) -> Handle:
        """Start ``request``; CFError when it cannot be handed over."""


def run_request(request: LaunchRequest, emit: Callable[[Message], None], on_run: Callable[[TrainingRun], None],
                where: str) -> RunResult | None:
    """Run ``request`` to its end and return its result (None when nothing was kept), emitting every message
    in order (the last is ``Finished``). ``on_run`` gets the training run as soon as it exists (to stop it).
    Errors propagate: the launcher turns them into ``Failed`` (see ``failure``)."""
    experiment = Experiment(request.dataset, request.parts, request.config, request.split_settings,
                            dataset_hash=request.dataset_hash or None, test=request.test,
                            evaluation=request.evaluation, launcher=where)
    run = experiment.run
    on_run(run)
    emit(Started(run.device_name, list(run.notes), dict(run.baselines), os.getpid(), where))
    for record in experiment:
        emit(record)
    record = experiment.finish(lambda what: emit(Stage(what)))
    if record is not None:
        emit(Stage("packing the model"))
    result = RunResult.of(experiment.model) if record is not None else None
    emit(Finished(run.end.reason, run.end.message, result))
    return result


def failure(exc: BaseException) -> Failed:
    """The message a page shows for an error raised while training."""
    if isinstance(exc, CFError):
        return Failed(str(exc))
    return Failed(f"training failed: {type(exc).__name__}: {exc}", traceback.format_exc(limit=3))
