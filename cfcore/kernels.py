"""The CPU row-wise training step as one compiled loop (numba): forward, gradient and lazy Adam together.

It computes exactly what ``TrainingRun._row_step`` computes with torch ops (the model's formula from
``BiasedMF.score_from_rows``, MSE plus the per-rating L2 on touched rows, then row-wise Adam), but
without a dispatch per small tensor operation, so a step of 1,024 ratings costs microseconds rather
than milliseconds. A test checks both paths give the same updates.
"""

from __future__ import annotations

import math

import numpy as np
import torch

try:  # numba is a requirement; without it training falls back to the torch row path
    from numba import njit
except ImportError:  # pragma: no cover
    njit = None

AVAILABLE = njit is not None


def _adam_rows_py(vec, bias, moments, grad_vec, grad_bias, touched, n_touched, coef, b1, b2, one_b1, one_b2,
                  step_size, inv_c2, eps):
    """Lazy Adam on the touched rows of one side (users or items): the vector's D entries, then the bias."""
    dim = vec.shape[1]
    for k in range(n_touched):
        row = touched[k]
        for d in range(dim):  # branch-free, so it vectorises
            gr = grad_vec[k, d] * coef
            m = b1 * moments[row, 0, d] + one_b1 * gr
            v = b2 * moments[row, 1, d] + one_b2 * gr * gr
            moments[row, 0, d] = m
            moments[row, 1, d] = v
            vec[row, d] -= step_size * m / (math.sqrt(v * inv_c2) + eps)
        gr = grad_bias[k, 0] * coef  # the bias' moments sit in column D
        m = b1 * moments[row, 0, dim] + one_b1 * gr
        v = b2 * moments[row, 1, dim] + one_b2 * gr * gr
        moments[row, 0, dim] = m
        moments[row, 1, dim] = v
        bias[row, 0] -= step_size * m / (math.sqrt(v * inv_c2) + eps)


_adam_rows = njit(cache=True, nogil=True, fastmath=True, error_model="numpy")(_adam_rows_py) if AVAILABLE else None


def _row_adam_step(user_vec, item_vec, user_bias, item_bias, global_bias, user_moments, item_moments, global_moments,
                   grad_user_vec, grad_item_vec, grad_user_bias, grad_item_bias,
                   mark_user, mark_item, slot_user, slot_item, touched_user, touched_item,
                   users, items, ratings, low, high, sigmoid, weight_decay, lr, beta1, beta2, eps, step, grad_clip):
    """One step on a batch; returns the batch MSE. Tables are updated in place.

    ``*_moments[row, 0]`` is Adam's first moment and ``[row, 1]`` the second, for the vector's D
    entries then the bias (column D): one contiguous block per row, so an update misses cache once.

    Gradients accumulate in compact (B, .) buffers, one slot per distinct row of the batch, so the
    only random accesses are to the rows themselves: it is memory latency that limits large tables.
    """
    # float32 scalars throughout: float64 constants would promote every element operation
    f32 = np.float32
    n = users.shape[0]
    dim = user_vec.shape[1]
    scale = f32(2.0 / n)  # d(mean squared error)/d(prediction) = 2 (pred - rating) / B
    decay = f32(2.0 * weight_decay / n)  # d(weight_decay * mean(|row|^2 per rating))/d(row)
    low = f32(low)
    high = f32(high)
    n_users_touched = 0
    n_items_touched = 0
    grad_global = f32(0.0)
    squared = 0.0
    g = global_bias[0]
    for b in range(n):
        u = users[b]
        i = items[b]
        raw = user_bias[u, 0] + item_bias[i, 0] + g
        for d in range(dim):
            raw += user_vec[u, d] * item_vec[i, d]
        if sigmoid:
            s = f32(1.0) / (f32(1.0) + math.exp(-raw))
            pred = low + (high - low) * s
            slope = (high - low) * s * (1.0 - s)
        else:
            pred = min(max(raw, low), high)
            slope = f32(1.0) if low <= raw <= high else f32(0.0)  # clamp passes no gradient outside the range
        err = pred - ratings[b]
        squared += err * err
        dpred = scale * err * slope
        if mark_user[u] != step:
            mark_user[u] = step
            slot_user[u] = n_users_touched
            touched_user[n_users_touched] = u
            grad_user_vec[n_users_touched, :] = 0.0
            grad_user_bias[n_users_touched, 0] = 0.0
            n_users_touched += 1
        if mark_item[i] != step:
            mark_item[i] = step
            slot_item[i] = n_items_touched
            touched_item[n_items_touched] = i
            grad_item_vec[n_items_touched, :] = 0.0
            grad_item_bias[n_items_touched, 0] = 0.0
            n_items_touched += 1
        su = slot_user[u]
        si = slot_item[i]
        for d in range(dim):
            uv = user_vec[u, d]
            iv = item_vec[i, d]
            grad_user_vec[su, d] += dpred * iv + decay * uv
            grad_item_vec[si, d] += dpred * uv + decay * iv
        grad_user_bias[su, 0] += dpred + decay * user_bias[u, 0]
        grad_item_bias[si, 0] += dpred + decay * item_bias[i, 0]
        grad_global += dpred

    coef = 1.0
    if grad_clip > 0.0:
        total = grad_global * grad_global
        for k in range(n_users_touched):
            total += grad_user_bias[k, 0] ** 2
            for d in range(dim):
                total += grad_user_vec[k, d] ** 2
        for k in range(n_items_touched):
            total += grad_item_bias[k, 0] ** 2
            for d in range(dim):
                total += grad_item_vec[k, d] ** 2
        coef = min(1.0, grad_clip / (math.sqrt(total) + 1e-6))

    c2 = f32(1.0 - beta2 ** step)
    step_size = f32(lr / (1.0 - beta1 ** step))
    inv_c2 = f32(1.0) / c2
    b1 = f32(beta1)
    b2 = f32(beta2)
    one_b1 = f32(1.0 - beta1)
    one_b2 = f32(1.0 - beta2)
    eps = f32(eps)
    coef = f32(coef)
    _adam_rows(user_vec, user_bias, user_moments, grad_user_vec, grad_user_bias, touched_user, n_users_touched,
               coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
    _adam_rows(item_vec, item_bias, item_moments, grad_item_vec, grad_item_bias, touched_item, n_items_touched,
               coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
    gr = grad_global * coef
    m = b1 * global_moments[0] + one_b1 * gr
    v = b2 * global_moments[1] + one_b2 * gr * gr
    global_moments[0] = m
    global_moments[1] = v
    global_bias[0] -= step_size * m / (math.sqrt(v * inv_c2) + eps)
    return squared / n


row_adam_step = njit(cache=True, nogil=True, fastmath=True, error_model="numpy")(_row_adam_step) if AVAILABLE else None


def _row_adam_steps(user_vec, item_vec, user_bias, item_bias, global_bias, user_moments, item_moments, global_moments,
                    grad_user_vec, grad_item_vec, grad_user_bias, grad_item_bias,
                    mark_user, mark_item, slot_user, slot_item, touched_user, touched_item,
                    users, items, ratings, batch_size, low, high, sigmoid, weight_decay, lr, beta1, beta2, eps,
                    first_step, grad_clip, losses):
    """Several consecutive batches in one call (one dispatch from Python instead of one per step)."""
    n = users.shape[0]
    k = 0
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        losses[k] = row_adam_step(user_vec, item_vec, user_bias, item_bias, global_bias, user_moments, item_moments,
                                  global_moments, grad_user_vec, grad_item_vec, grad_user_bias, grad_item_bias,
                                  mark_user, mark_item, slot_user, slot_item, touched_user, touched_item,
                                  users[start:end], items[start:end], ratings[start:end], low, high, sigmoid,
                                  weight_decay, lr, beta1, beta2, eps, first_step + k, grad_clip)
        k += 1
    return k


row_adam_steps = njit(cache=True, nogil=True)(_row_adam_steps) if AVAILABLE else None


class CompiledRowAdam(torch.optim.Optimizer):
    """State for ``row_adam_step`` over a model's CPU tables (numpy views sharing the tensors' memory).

    A torch Optimizer only so that learning-rate schedulers can adjust ``param_groups[0]["lr"]``.
    """

    def __init__(self, model, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(list(model.parameters()), {"lr": lr})
        self.tables = [model.user_embeddings.weight.detach().numpy(), model.item_embeddings.weight.detach().numpy(),
                       model.user_biases.weight.detach().numpy(), model.item_biases.weight.detach().numpy(),
                       model.global_bias.detach().numpy()]
        dim = self.tables[0].shape[1]
        self.moments = [np.zeros((len(self.tables[0]), 2, dim + 1), np.float32),  # users: (m, v) x (vector, bias)
                        np.zeros((len(self.tables[1]), 2, dim + 1), np.float32),  # items
                        np.zeros(2, np.float32)]  # global bias
        self.grads: list[np.ndarray] = []  # compact (B, .) buffers, sized on the first batch
        self.marks = [np.zeros(len(self.tables[0]), np.int64), np.zeros(len(self.tables[1]), np.int64)]
        self.slots = [np.zeros(len(self.tables[0]), np.int64), np.zeros(len(self.tables[1]), np.int64)]
        self.betas, self.eps = betas, eps
        self.n_steps = 0

    def step(self, closure=None):  # pragma: no cover - the training loop calls step_batch
        raise RuntimeError("CompiledRowAdam is driven by step_batch(...), not step()")

    def step_batches(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, batch_size: int, low: float,
                     high: float, sigmoid: bool, weight_decay: float, grad_clip: float | None) -> np.ndarray:
        """Consecutive batches of ``batch_size`` in one compiled call; returns each batch's MSE."""
        n_batches = -(-len(users) // batch_size)
        self._buffers(min(batch_size, len(users)))
        losses = np.empty(n_batches, np.float64)
        uv, iv, ub, ib, g = self.tables
        m = self.moments
        row_adam_steps(uv, iv, ub, ib, g, m[0], m[1], m[2], *self.grads, self.marks[0], self.marks[1],
                       self.slots[0], self.slots[1], self.touched[0], self.touched[1], users, items, ratings,
                       batch_size, low, high, sigmoid, weight_decay, self.param_groups[0]["lr"], self.betas[0],
                       self.betas[1], self.eps, self.n_steps + 1, grad_clip or 0.0, losses)
        self.n_steps += n_batches
        return losses

    def _buffers(self, n: int) -> None:
        if not self.grads or len(self.grads[0]) < n:
            dim = self.tables[0].shape[1]
            self.grads = [np.zeros((n, dim), np.float32), np.zeros((n, dim), np.float32),
                          np.zeros((n, 1), np.float32), np.zeros((n, 1), np.float32)]
            self.touched = np.empty(n, np.int64), np.empty(n, np.int64)

    def step_batch(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, low: float, high: float,
                   sigmoid: bool, weight_decay: float, grad_clip: float | None) -> float:
        self.n_steps += 1
        n = len(users)
        self._buffers(n)
        touched = self.touched
        uv, iv, ub, ib, g = self.tables
        m = self.moments
        return row_adam_step(uv, iv, ub, ib, g, m[0], m[1], m[2],
                             *self.grads, self.marks[0], self.marks[1], self.slots[0], self.slots[1],
                             touched[0], touched[1],
                             users, items, ratings, low, high, sigmoid, weight_decay, self.param_groups[0]["lr"],
                             self.betas[0], self.betas[1], self.eps, self.n_steps, grad_clip or 0.0)
