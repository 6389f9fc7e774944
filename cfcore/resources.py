"""Before training: how many parameters, how much memory, and how long an epoch will take."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from cfcore.config import TrainConfig
from cfcore.model import count_parameters
from cfcore.ratings import Ratings

FLOAT_BYTES = 4


@dataclass(frozen=True)
class ResourceEstimate:
    """Memory and time a run is expected to need on its device."""

    n_parameters: int
    weights_bytes: int
    optimizer_bytes: int  # Adam's two moment tensors, gradients and the best-epoch copy
    data_bytes: int  # ratings held on the device for the run
    total_bytes: int
    available_bytes: int | None  # free RAM (CPU) or free GPU memory
    device: str
    seconds_per_epoch: float | None
    steps_per_epoch: int

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.total_bytes < 0.8 * self.available_bytes

    def describe(self) -> str:
        timing = f", about {self.seconds_per_epoch:.1f} s per epoch" if self.seconds_per_epoch is not None else ""
        free = f" of {human_bytes(self.available_bytes)} free" if self.available_bytes is not None else ""
        return (f"{self.n_parameters:,} parameters; {human_bytes(self.total_bytes)} needed{free} on {self.device}"
                f"{timing}")


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def available_memory(device: torch.device) -> int | None:
    """Free bytes on the device: MemAvailable for the CPU, the CUDA driver's figure for a GPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_needed(n_users: int, n_items: int, n_train: int, n_val: int, config: TrainConfig) -> tuple[int, int, int, int]:
    """(parameters, weight bytes, optimizer-side bytes, data bytes) for a run of this size."""
    n_params = count_parameters(n_users, n_items, config.embedding_dim)
    weights = n_params * FLOAT_BYTES
    # Adam: exp_avg + exp_avg_sq (2x); dense gradients (1x) or only the batch's rows; best-epoch copy (1x)
    grads = weights if config.optimizer == "adam" else 2 * config.batch_size * (config.embedding_dim + 1) * 12
    optimizer = 2 * weights + grads + weights
    # user_idx, item_idx (int64) and rating (float32); for training also the epoch's permutation and
    # shuffled copy (int32 ids on the CPU path, int64 on a GPU: budget the larger)
    data = (n_train + n_val) * (8 + 8 + 4) + n_train * (8 + 8 + 8 + 4)
    return n_params, weights, optimizer, data


def estimate_resources(train: Ratings, val: Ratings, config: TrainConfig, timing_seconds: float = 1.0) -> ResourceEstimate:
    """Memory from the sizes; seconds per epoch from about ``timing_seconds`` of the real training
    loop (0 to skip), after a warm-up that compiles (or loads) the CPU kernels once per process."""
    from cfcore.train import TrainingRun, resolve_device

    device = resolve_device(config.device)
    n_params, weights, optimizer, data = memory_needed(train.n_users, train.n_items, len(train), len(val), config)
    total = weights + optimizer + data
    available = available_memory(device)
    batch = min(config.batch_size, len(train))
    steps = math.ceil(len(train) / batch)
    seconds = None
    if timing_seconds and (available is None or total < 0.8 * available):
        warm_up(config)
        timed = config.replace(log_every=max(1, min(config.log_every, 8)))  # frequent records: a finer clock
        seconds = TrainingRun(train, val, timed).time_epoch(timing_seconds)
    return ResourceEstimate(n_params, weights, optimizer, data, total, available, str(device), seconds, steps)


_WARM: set[tuple] = set()


def warm_up(config: TrainConfig) -> None:
    """Run a few steps on tiny data so the first timing (and first run) pays no compilation: numba
    compiles the CPU step once per install and loads it once per process, which can take seconds."""
    from cfcore.synthetic import SyntheticSpec, generate
    from cfcore.split import split
    from cfcore.train import TrainingRun

    key = (config.device, config.optimizer, config.output, config.grad_clip is not None)
    if key in _WARM:
        return
    data = generate(SyntheticSpec(n_ratings=4000, n_users=100, n_items=100, seed=0)).dataset.ratings
    parts = split(data, "random", 0.2, 0)
    run = TrainingRun(parts.train, parts.val, config.replace(epochs=1, embedding_dim=4, batch_size=256,
                                                               ranking_model="mf"))
    for _ in run:
        pass
    _WARM.add(key)
