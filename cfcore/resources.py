"""Memory: how much a run needs (from the sizes alone) and how much the device has free (``sizes.py``: whether it fits)."""

from __future__ import annotations

import os

import torch

from cfcore.config import TrainConfig
from cfcore.model import count_parameters

FLOAT_BYTES = 4


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
