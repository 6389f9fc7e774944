"""Embedding dropout masks: which entries of each rating's two vectors a training step drops.

The seed design document's remedy for overfitting, beside L2 and early stopping, is dropout. Each
training rating sees its user vector and its item vector with every entry kept with probability
1 - p and scaled by 1 / (1 - p) (so the expected score is unchanged); biases are never dropped and
prediction never drops anything.

The mask is a hash of (seed, step, side, position in the batch, dimension), not a draw from a
random stream, so the torch steps here and the compiled CPU step (``kernels.py``, same integer
arithmetic) drop the same entries on any number of threads, and a seeded run repeats.
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
MIX = 0x45D9F3B  # Thomas Mueller's 32-bit integer hash multiplier; < 2^27, so products fit in int64
ITEM_SIDE = 0x68E31DA4  # offsets the item side's stream from the user side's


def mix(x):
    """A 32-bit integer hash of ``x`` (0 <= x < 2^32) in int64 arithmetic: works on Python ints and
    int64 tensors alike."""
    x = (((x >> 16) ^ x) * MIX) & MASK32
    x = (((x >> 16) ^ x) * MIX) & MASK32
    return (x >> 16) ^ x


def step_key(seed: int, step: int) -> int:
    """The hash every mask of one step starts from (``step`` counts from 1 over the whole run)."""
    return mix((mix(seed & MASK32) + step) & MASK32)


def threshold(p: float) -> int:
    """An entry is kept when its hash is at least this (so with probability 1 - p)."""
    return min(int(round(p * 2.0**32)), 2**32)


def masks(seed: int, step: int, n: int, dim: int, p: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(user mask, item mask), each (n, dim) float32: 0 where dropped, 1 / (1 - p) where kept."""
    key = step_key(seed, step)
    position = (torch.arange(n, device=device, dtype=torch.int64)[:, None] * dim
                + torch.arange(dim, device=device, dtype=torch.int64)[None, :])  # (n, dim)
    keep_from, scale = threshold(p), 1.0 / (1.0 - p)
    out = []
    for side in (0, ITEM_SIDE):
        hashed = mix((position + key + side) & MASK32)  # (n, dim)
        out.append((hashed >= keep_from).to(torch.float32) * scale)
    return out[0], out[1]
