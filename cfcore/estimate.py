"""Before training: the Train page's estimate of a run's memory and seconds per epoch.

Memory comes from the sizes (``resources.py``); time from about a second of the real training loop,
so the estimate and the run share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from cfcore import resources
from cfcore.config import TrainConfig
from cfcore.device import resolve_device
from cfcore.rankers import registry
from cfcore.ratings import Ratings
from cfcore.resources import memory_needed
from cfcore.sizes import fits
from cfcore.split import split
from cfcore.synthetic import SyntheticSpec, generate
from cfcore.train import TrainingRun


@dataclass(frozen=True)
class ResourceEstimate:
    """Memory and time a run is expected to need on its device."""

    n_parameters: int
    weights_bytes: int
    optimizer_bytes: int  # Adam's two moment tensors, gradients and the best-epoch copy
    data_bytes: int  # ratings held on the device for the run, with the training process's copy
    total_bytes: int
    available_bytes: int | None  # free RAM (CPU) or free GPU memory
    device: str
    seconds_per_epoch: float | None  # the rating model's epoch
    steps_per_epoch: int
    handoff_bytes: int = 0  # of data_bytes: the copy of the data a training process of its own holds
    lists_seconds_per_epoch: float | None = None  # a ranking model trained beside it (the tuned model): its epoch
    lists_bytes: int = 0  # of optimizer_bytes: that model's vectors, Adam state and a batch of its scores

    @property
    def fits(self) -> bool:
        return fits(self.total_bytes, self.available_bytes)


def estimate_resources(train: Ratings, val: Ratings, config: TrainConfig, timing_seconds: float = 1.0, *,
                       handoff_bytes: int = 0) -> ResourceEstimate:
    """Memory from the sizes; seconds per epoch from about ``timing_seconds`` of the real training
    loop (0 to skip), after a warm-up that compiles (or loads) the CPU kernels once per process.
    ``handoff_bytes``: a copy of the data the run's own process will hold (``worker.handoff_bytes``)."""
    device = resolve_device(config.device)
    n_params, weights, optimizer, data = memory_needed(train.n_users, train.n_items, len(train), len(val), config)
    kind = registry.get(config.ranking_model)
    lists_bytes = kind.memory_needed(train.n_users, train.n_items, config, config.ranking_params)
    optimizer += lists_bytes
    data += handoff_bytes
    total = weights + optimizer + data
    available = resources.available_memory(device)  # read at call time (tests set it)
    steps = config.steps_per_epoch(len(train))
    seconds = lists_seconds = None
    if timing_seconds and fits(total, available):
        warm_up(config)
        timed = config.replace(log_every=max(1, min(config.log_every, 8)))  # frequent records: a finer clock
        seconds = TrainingRun(train, val, timed).time_epoch(timing_seconds)
        trainer = kind.trainer(train, val, config, config.ranking_params, k=10, threshold=4.0) if kind.trained else None
        if trainer is not None:
            lists_seconds = trainer.time_epoch(timing_seconds / 2)
    return ResourceEstimate(n_params, weights, optimizer, data, total, available, str(device), seconds, steps,
                            handoff_bytes, lists_seconds, lists_bytes)


_WARM: set[tuple] = set()


def warm_up(config: TrainConfig) -> None:
    """Run a few steps on tiny data so the first timing (and first run) pays no compilation: numba
    compiles the CPU step once per install and loads it once per process, which can take seconds."""
    key = (config.device, config.optimizer, config.output, config.grad_clip is not None)
    if key in _WARM:
        return
    data = generate(SyntheticSpec(n_ratings=4000, n_users=100, n_items=100, seed=0)).dataset.ratings
    parts = split(data, "random", 0.2, 0)
    run = TrainingRun(parts.train, parts.val, config.replace(epochs=1, embedding_dim=4, batch_size=256))
    for _ in run:
        pass
    _WARM.add(key)
