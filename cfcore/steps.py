"""The three ways a training step runs, behind one interface, so the training loop has one body.

- ``DenseStep`` (optimizer ``adam``): the seed's step: autograd through the whole model, one dense
  Adam over every parameter.
- ``RowStep`` (``sparse_adam`` on CUDA/MPS, or on a CPU without numba): gradients for the rows a
  batch touches only, then row-wise Adam; cost O(batch) whatever the table sizes.
- ``CompiledStep`` (``sparse_adam`` on the CPU): the same update as one compiled loop over several
  batches per call (``kernels.py``), on numpy views of the model's tables.

Each one shuffles an epoch in its own form (device tensors, or reused numpy buffers) and runs
batches of it, returning how many ran and the sum of their MSEs: a device tensor on the torch paths
(the loop reads it back once per logging window, not once per step) or a float.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from cfcore import dropout, kernels
from cfcore.config import TrainConfig
from cfcore.device import uses_compiled_step
from cfcore.model import BiasedMF
from cfcore.ratings import Ratings
from cfcore.rowadam import RowAdam

Epoch = tuple  # (users, items, ratings) of one epoch in the step's order and form


class StepPath(Protocol):
    chunk: int  # batches one call of ``run`` takes at most (the loop honours Stop between calls)
    optimizers: list[torch.optim.Optimizer]  # what learning-rate schedulers adjust

    def shuffled(self) -> Epoch:
        """This epoch's order of the training ratings."""

    def run(self, epoch: Epoch, start: int, end: int) -> tuple[int, float | torch.Tensor]:
        """Steps on ``epoch[start:end]`` in batches of the run's size: (batches run, sum of their MSEs)."""


def make_step(model: BiasedMF, train: Ratings, config: TrainConfig, batch_size: int,
              device: torch.device) -> StepPath:
    """The step path the config and device call for (see the module docstring)."""
    if config.optimizer == "adam":
        return DenseStep(model, train, config, batch_size, device)
    if uses_compiled_step(device, config.optimizer):
        return CompiledStep(model, train, config, batch_size)
    return RowStep(model, train, config, batch_size, device)


class _TorchStep:
    """What the two torch paths share: the training set on the device, shuffled with a seeded generator."""

    chunk = 1

    def __init__(self, model: BiasedMF, train: Ratings, config: TrainConfig, batch_size: int,
                 device: torch.device) -> None:
        self.model, self.config, self.batch_size = model, config, batch_size
        # the whole training set lives on the device for the run; batches are slices, never lists
        self._users = torch.as_tensor(train.user_idx, dtype=torch.long, device=device)  # (N,)
        self._items = torch.as_tensor(train.item_idx, dtype=torch.long, device=device)  # (N,)
        self._ratings = torch.as_tensor(train.rating, dtype=torch.float32, device=device)  # (N,)
        self._generator = torch.Generator(device=device).manual_seed(config.seed)
        self._device = device
        self._steps_taken = 0  # the dropout masks' clock (counts from 1, as the compiled step's does)

    def shuffled(self) -> Epoch:
        perm = torch.randperm(len(self._users), device=self._device, generator=self._generator)  # (N,)
        return self._users[perm], self._items[perm], self._ratings[perm]  # (N,) each

    def run(self, epoch: Epoch, start: int, end: int) -> tuple[int, torch.Tensor]:
        users, items, ratings = epoch
        self._steps_taken += 1
        return 1, self.step(users[start:end], items[start:end], ratings[start:end])

    def _masks(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(user mask, item mask), (B, D) each, for this step's dropout."""
        cfg = self.config
        return dropout.masks(cfg.seed, self._steps_taken, n, self.model.embedding_dim, cfg.dropout, self._device)


class DenseStep(_TorchStep):
    """The seed's step: autograd through the whole model, dense Adam with coupled L2 on every parameter."""

    def __init__(self, model: BiasedMF, train: Ratings, config: TrainConfig, batch_size: int,
                 device: torch.device) -> None:
        super().__init__(model, train, config, batch_size, device)
        self.optimizers = [torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                            weight_decay=config.weight_decay)]

    def step(self, user_idx: torch.Tensor, item_idx: torch.Tensor, rating: torch.Tensor) -> torch.Tensor:
        """One step on a batch; the batch MSE (on the device, not read back)."""
        m, opt = self.model, self.optimizers[0]
        opt.zero_grad(set_to_none=True)
        if self.config.dropout > 0:
            user_mask, item_mask = self._masks(len(user_idx))  # (B, D) each
            pred = m.apply_output(m.score_from_rows(m.user_embeddings(user_idx) * user_mask,
                                                    m.item_embeddings(item_idx) * item_mask,
                                                    m.user_biases(user_idx), m.item_biases(item_idx)))  # (B,)
        else:
            pred = m(user_idx, item_idx)  # (B,)
        mse = torch.mean((pred - rating) ** 2)
        mse.backward()
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(m.parameters(), self.config.grad_clip)
        opt.step()
        return mse.detach()


class RowStep(_TorchStep):
    """Gradients for the touched rows only, then row-wise Adam (``rowadam.py``); plain Adam for the global bias."""

    def __init__(self, model: BiasedMF, train: Ratings, config: TrainConfig, batch_size: int,
                 device: torch.device) -> None:
        super().__init__(model, train, config, batch_size, device)
        self.tables = [model.user_embeddings.weight, model.item_embeddings.weight, model.user_biases.weight,
                       model.item_biases.weight]
        for table in self.tables:
            table.requires_grad_(False)  # updated row by row, never through a dense gradient
        self.optimizers = [RowAdam(self.tables, lr=config.learning_rate),
                           torch.optim.Adam([model.global_bias], lr=config.learning_rate)]

    def step(self, user_idx: torch.Tensor, item_idx: torch.Tensor, rating: torch.Tensor) -> torch.Tensor:
        """One step on a batch; the batch MSE (on the device, not read back)."""
        cfg, m = self.config, self.model
        row_adam, bias_adam = self.optimizers
        bias_adam.zero_grad(set_to_none=True)
        user_rows, user_pos = torch.unique(user_idx, return_inverse=True)  # (Ru,), (B,)
        item_rows, item_pos = torch.unique(item_idx, return_inverse=True)  # (Ri,), (B,)
        tables = self.tables
        leaves = [tables[0][user_rows].requires_grad_(), tables[1][item_rows].requires_grad_(),  # (Ru, D), (Ri, D)
                  tables[2][user_rows].requires_grad_(), tables[3][item_rows].requires_grad_()]  # (Ru, 1), (Ri, 1)
        user_vec, item_vec = leaves[0][user_pos], leaves[1][item_pos]  # (B, D) each
        user_bias, item_bias = leaves[2][user_pos], leaves[3][item_pos]  # (B, 1) each
        if cfg.dropout > 0:  # the L2 penalty below still sees the whole rows
            user_mask, item_mask = self._masks(len(user_idx))  # (B, D) each
            pred = m.apply_output(m.score_from_rows(user_vec * user_mask, item_vec * item_mask, user_bias, item_bias))
        else:
            pred = m.apply_output(m.score_from_rows(user_vec, item_vec, user_bias, item_bias))  # (B,)
        mse = torch.mean((pred - rating) ** 2)
        loss = mse
        if cfg.weight_decay > 0:
            # L2 on the rows this batch touched, once per rating (the classic regularised-SVD penalty)
            penalty = (user_vec.pow(2).sum(1) + item_vec.pow(2).sum(1)
                       + user_bias.squeeze(-1).pow(2) + item_bias.squeeze(-1).pow(2))  # (B,)
            loss = mse + cfg.weight_decay * penalty.mean()
        loss.backward()  # autograd sums duplicate rows into each leaf's gradient
        grads = [leaf.grad for leaf in leaves]
        if cfg.grad_clip is not None:
            total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in
                                                          [*grads, m.global_bias.grad]]))
            coef = torch.clamp(cfg.grad_clip / (total + 1e-6), max=1.0)
            for g in [*grads, m.global_bias.grad]:
                g.mul_(coef)
        rows = (user_rows, item_rows, user_rows, item_rows)
        row_adam.step_rows(list(zip(tables, rows, grads)))
        bias_adam.step()
        return mse.detach()


COMPILED_CHUNK = 8  # batches per compiled call: one Python dispatch per 8 steps, Stop still within 8 steps


class CompiledStep:
    """Row-wise Adam as one compiled loop per call (``kernels.CompiledRowAdam``), on numpy data."""

    chunk = COMPILED_CHUNK

    def __init__(self, model: BiasedMF, train: Ratings, config: TrainConfig, batch_size: int) -> None:
        self.model, self.train, self.config, self.batch_size = model, train, config, batch_size
        for table in (model.user_embeddings.weight, model.item_embeddings.weight, model.user_biases.weight,
                      model.item_biases.weight, model.global_bias):
            table.requires_grad_(False)  # the kernel writes the tables directly
        self.optimizers = [kernels.CompiledRowAdam(model, lr=config.learning_rate)]
        self._rng = np.random.default_rng(config.seed)
        self._buffers: Epoch | None = None  # the shuffled copy, allocated once for the run

    def shuffled(self) -> Epoch:
        """This epoch's permutation, written into buffers reused every epoch (int32 ids: the step reads
        them once each, so half the bytes of int64)."""
        n = len(self.train)
        if self._buffers is None:
            self._buffers = (np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.float32))
        kernels.shuffle(self._rng, self.train.user_idx, self.train.item_idx, self.train.rating, *self._buffers)
        return self._buffers

    def run(self, epoch: Epoch, start: int, end: int) -> tuple[int, float]:
        users, items, ratings = (np.asarray(column[start:end]) for column in epoch)
        cfg = self.config
        low, high = self.model.output_range()
        losses = self.optimizers[0].step_batches(users, items, ratings, self.batch_size, low, high,
                                                 cfg.output == "sigmoid", cfg.weight_decay, cfg.grad_clip,
                                                 cfg.dropout, cfg.seed)  # (batches,)
        return len(losses), float(losses.sum())
