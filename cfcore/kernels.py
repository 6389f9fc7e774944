"""The CPU row-wise training step as compiled loops (numba): forward, gradient and lazy Adam together.

It computes exactly what ``steps.RowStep.step`` computes with torch ops (the model's formula from
``BiasedMF.score_from_rows``, MSE plus the per-rating L2 on touched rows, then row-wise Adam), but
without a dispatch per small tensor operation, so a step of 1,024 ratings costs microseconds rather
than milliseconds. A test checks both paths give the same updates.

The step is memory-latency bound (each rating touches two random rows of tables larger than the
cache), so it is split over the CPU's cores in a way that needs no locks and gives the same numbers
on any number of cores: ratings are split for the forward pass, distinct rows for the gradients and
the Adam updates, and each row's gradient sums its ratings in batch order. With no OpenMP/TBB
threading layer (numba's fallback layer is slower than one core) the same code runs on one core.
"""

from __future__ import annotations

import functools
import math
import mmap
import threading
from typing import NamedTuple

import numpy as np
import torch

from cfcore import dropout as dropout_module
from cfcore.dropout import ITEM_SIDE, MASK32


class Tables(NamedTuple):
    """What the step updates in place: the model's tables (numpy views of its tensors) and Adam's moments."""

    user_vec: np.ndarray  # (U, D) float32
    item_vec: np.ndarray  # (I, D)
    user_bias: np.ndarray  # (U, 1)
    item_bias: np.ndarray  # (I, 1)
    global_bias: np.ndarray  # (1,)
    user_moments: np.ndarray  # (U, 2, D + 1): [row, 0] Adam's first moment, [row, 1] the second; bias in column D
    item_moments: np.ndarray  # (I, 2, D + 1)
    global_moments: np.ndarray  # (2,)


class Work(NamedTuple):
    """Per-batch work space (B = the largest batch), reused by every step; one slot per distinct row."""

    grad_user_vec: np.ndarray  # (B, D) float32: each touched user's gradient, by slot
    grad_item_vec: np.ndarray  # (B, D)
    grad_user_bias: np.ndarray  # (B, 1)
    grad_item_bias: np.ndarray  # (B, 1)
    contrib_user: np.ndarray  # (B, D): each rating's share of its user's gradient
    contrib_item: np.ndarray  # (B, D)
    dpred: np.ndarray  # (B,): d(loss)/d(prediction)
    err: np.ndarray  # (B,): prediction - rating
    mark_user: np.ndarray  # (U,) int64: the last step that touched each user
    mark_item: np.ndarray  # (I,)
    slot_user: np.ndarray  # (U,) int64: each touched user's slot in this step
    slot_item: np.ndarray  # (I,)
    touched_user: np.ndarray  # (B,) int64: the rows in slot order
    touched_item: np.ndarray  # (B,)
    start_user: np.ndarray  # (B + 1,) int64: where each slot's ratings start in order_user
    start_item: np.ndarray  # (B + 1,)
    order_user: np.ndarray  # (B,) int64: ratings grouped by slot, in batch order within a slot
    order_item: np.ndarray  # (B,)
    cursor: np.ndarray  # (B,) int64: scratch for the grouping


class Settings(NamedTuple):
    """One call's scalars (a learning-rate scheduler may change ``lr`` between calls)."""

    low: float  # the output range
    high: float
    sigmoid: bool  # a scaled sigmoid instead of the clip
    weight_decay: float  # L2 per rating on the touched rows
    lr: float
    beta1: float
    beta2: float
    eps: float
    grad_clip: float  # 0: off
    keep_from: int  # dropout.threshold(p): an entry is kept when its hash is at least this (0: dropout off)
    keep_scale: float  # 1 / (1 - p)

try:  # numba is a requirement; without it training falls back to the torch row path
    import numba
    from llvmlite import ir
    from numba import njit, prange, types
    from numba.core import cgutils
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover
    numba = njit = None
    prange = range

AVAILABLE = njit is not None
_OPTIONS = dict(cache=True, nogil=True, fastmath=True, error_model="numpy")


def _jit(fn, parallel=False):
    return njit(parallel=parallel, **_OPTIONS)(fn) if AVAILABLE else None


if AVAILABLE:
    @intrinsic
    def _prefetch_row(typingctx, table, row):
        """Ask the CPU to start loading ``table[row]`` (all its cache lines) while other work goes on."""
        if not isinstance(table, types.Array) or table.ndim < 2:
            return None

        def codegen(context, builder, sig, args):
            table_type = sig.args[0]
            array = context.make_array(table_type)(context, builder, args[0])
            shape = cgutils.unpack_tuple(builder, array.shape)
            strides = cgutils.unpack_tuple(builder, array.strides)
            index = [context.cast(builder, args[1], sig.args[1], types.intp)]
            index += [context.get_constant(types.intp, 0)] * (table_type.ndim - 1)
            first = cgutils.get_item_pointer2(context, builder, data=array.data, shape=shape, strides=strides,
                                              layout=table_type.layout, inds=index)
            byte_ptr = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
                                                "llvm.prefetch.p0")
            start = builder.bitcast(first, byte_ptr)
            # one prefetch per 64-byte cache line of the row (a row rarely starts on a line boundary: +1),
            # at most PREFETCH_LINES
            intp = context.get_value_type(types.intp)
            lines = builder.add(builder.udiv(strides[0], ir.Constant(intp, 64)), ir.Constant(intp, 1))
            lines = builder.select(builder.icmp_unsigned("<", lines, ir.Constant(intp, PREFETCH_LINES)), lines,
                                   ir.Constant(intp, PREFETCH_LINES))
            with cgutils.for_range(builder, lines) as loop:
                line = builder.gep(start, [builder.mul(loop.index, ir.Constant(intp, 64))])
                # read access, keep in every cache level, data (not instruction) cache
                builder.call(fn, [line, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return types.void(table, row), codegen

PREFETCH_LINES = 16  # at most 1 KiB per row: beyond that the hardware prefetcher follows
PREFETCH_AHEAD = 4  # ratings (or rows) ahead: enough to hide a miss behind the current work


def _assign_slots_py(rows, mark, slot, touched, step):
    """Give each distinct row of the batch a compact slot 0..K-1 (first-seen order); returns K."""
    n_touched = 0
    for b in range(rows.shape[0]):
        r = rows[b]
        if mark[r] != step:
            mark[r] = step
            slot[r] = n_touched
            touched[n_touched] = r
            n_touched += 1
    return n_touched


def _group_py(rows, slot, n_touched, start, order, cursor):
    """Counting sort of the batch by slot: slot k's ratings are order[start[k]:start[k + 1]], in batch order."""
    start[: n_touched + 1] = 0
    for b in range(rows.shape[0]):
        start[slot[rows[b]] + 1] += 1
    for k in range(n_touched):
        start[k + 1] += start[k]
        cursor[k] = start[k]
    for b in range(rows.shape[0]):
        k = slot[rows[b]]
        order[cursor[k]] = b
        cursor[k] += 1


def _row_gradient_py(k, row, vec, bias, contrib, start, order, dpred, decay, grad_vec, grad_bias):
    """Gradient of one touched row (slot k): its ratings' contributions (error times the other side's
    vector, from the forward pass) plus the L2 term, summed in batch order."""
    dim = vec.shape[1]
    grad_vec[k, :] = 0.0
    gb = np.float32(0.0)
    for j in range(start[k], start[k + 1]):
        b = order[j]
        for d in range(dim):
            grad_vec[k, d] += contrib[b, d] + decay * vec[row, d]
        gb += dpred[b] + decay * bias[row, 0]
    grad_bias[k, 0] = gb


def _adam_row_py(vec, bias, moments, grad_vec, grad_bias, k, row, coef, b1, b2, one_b1, one_b2, step_size, inv_c2,
                 eps):
    """Lazy Adam on one touched row: the vector's D entries, then the bias (its moments sit in column D)."""
    dim = vec.shape[1]
    for d in range(dim):  # branch-free, so it vectorises
        gr = grad_vec[k, d] * coef
        m = b1 * moments[row, 0, d] + one_b1 * gr
        v = b2 * moments[row, 1, d] + one_b2 * gr * gr
        moments[row, 0, d] = m
        moments[row, 1, d] = v
        vec[row, d] -= step_size * m / (math.sqrt(v * inv_c2) + eps)
    gr = grad_bias[k, 0] * coef
    m = b1 * moments[row, 0, dim] + one_b1 * gr
    v = b2 * moments[row, 1, dim] + one_b2 * gr * gr
    moments[row, 0, dim] = m
    moments[row, 1, dim] = v
    bias[row, 0] -= step_size * m / (math.sqrt(v * inv_c2) + eps)


def _dropped_dot_py(raw, b, u, i, user_vec, item_vec, contrib_user, contrib_item, key, keep_from, keep_scale):
    """``raw`` plus rating b's dot product under its dropout masks; writes d(score)/d(row) into ``contrib_*[b]``."""
    dim = user_vec.shape[1]
    for d in range(dim):
        position = np.int64(b) * dim + d + key
        mu = keep_scale if _mix(position & MASK32) >= keep_from else np.float32(0.0)
        mi = keep_scale if _mix((position + ITEM_SIDE) & MASK32) >= keep_from else np.float32(0.0)
        kept_user = user_vec[u, d] * mu
        kept_item = item_vec[i, d] * mi
        raw += kept_user * kept_item
        contrib_user[b, d] = kept_item * mu
        contrib_item[b, d] = kept_user * mi
    return raw


def _output_py(raw, low, high, sigmoid):
    """(prediction, d(prediction)/d(raw score)) under the clamp or the scaled sigmoid."""
    if sigmoid:
        s = np.float32(1.0) / (np.float32(1.0) + math.exp(-raw))
        return low + (high - low) * s, (high - low) * s * (1.0 - s)
    # the clamp passes no gradient outside the range
    return min(max(raw, low), high), np.float32(1.0) if low <= raw <= high else np.float32(0.0)


def _adam_scalars_py(lr, beta1, beta2, eps, step):
    """This step's Adam constants as float32 (float64 ones would promote every element operation):
    (step size with the first moment's bias correction, 1 / the second's, b1, b2, 1 - b1, 1 - b2, eps)."""
    f32 = np.float32
    return (f32(lr / (1.0 - beta1 ** step)), f32(1.0) / f32(1.0 - beta2 ** step), f32(beta1), f32(beta2),
            f32(1.0 - beta1), f32(1.0 - beta2), f32(eps))


def _clip_coef_py(grad_clip, grad_global, grad_user_vec, grad_user_bias, n_users, grad_item_vec, grad_item_bias,
                  n_items):
    """What the whole gradient is scaled by so that its norm is at most ``grad_clip`` (1 if it already is)."""
    dim = grad_user_vec.shape[1]
    total = grad_global * grad_global
    for k in range(n_users):
        total += grad_user_bias[k, 0] ** 2
        for d in range(dim):
            total += grad_user_vec[k, d] ** 2
    for k in range(n_items):
        total += grad_item_bias[k, 0] ** 2
        for d in range(dim):
            total += grad_item_vec[k, d] ** 2
    return np.float32(min(1.0, grad_clip / (math.sqrt(total) + 1e-6)))


def _adam_global_py(global_bias, global_moments, gr, b1, b2, one_b1, one_b2, step_size, inv_c2, eps):
    """Adam on the global bias (its moments are ``global_moments[0]`` and ``[1]``)."""
    m = b1 * global_moments[0] + one_b1 * gr
    v = b2 * global_moments[1] + one_b2 * gr * gr
    global_moments[0] = m
    global_moments[1] = v
    global_bias[0] -= step_size * m / (math.sqrt(v * inv_c2) + eps)


_mix = _jit(dropout_module.mix)  # the same hash the torch steps use, compiled
_assign_slots = _jit(_assign_slots_py)
_group = _jit(_group_py)
_row_gradient = _jit(_row_gradient_py)
_adam_row = _jit(_adam_row_py)
_dropped_dot = _jit(_dropped_dot_py)
_output = _jit(_output_py)
_adam_scalars = _jit(_adam_scalars_py)
_clip_coef = _jit(_clip_coef_py)
_adam_global = _jit(_adam_global_py)


def _row_adam_step(tables, work, settings, users, items, ratings, step, step_key, n_parts):
    """One step on a batch; returns the batch MSE. Tables are updated in place.

    ``*_moments[row, 0]`` is Adam's first moment and ``[row, 1]`` the second, for the vector's D
    entries then the bias (column D): one contiguous block per row, so an update misses cache once.
    Gradients live in compact (B, .) buffers, one slot per distinct row of the batch. ``n_parts``
    is the number of pieces each phase is cut into (the number of threads). ``step`` counts from 1 (Adam's
    bias correction); ``step_key`` is ``dropout.step_key(seed, step)``: with ``settings.keep_from`` > 0
    vector entries are dropped as ``dropout.masks`` drops them (the same hash, so the same entries).
    """
    user_vec, item_vec, user_bias, item_bias, global_bias, user_moments, item_moments, global_moments = tables
    (grad_user_vec, grad_item_vec, grad_user_bias, grad_item_bias, contrib_user, contrib_item, dpred, err,
     mark_user, mark_item, slot_user, slot_item, touched_user, touched_item, start_user, start_item,
     order_user, order_item, cursor) = work
    low, high, sigmoid, weight_decay, lr, beta1, beta2, eps, grad_clip, keep_from, keep_scale = settings
    # float32 scalars throughout: float64 constants would promote every element operation
    f32 = np.float32
    n = users.shape[0]
    dim = user_vec.shape[1]
    scale = f32(2.0 / n)  # d(mean squared error)/d(prediction) = 2 (pred - rating) / B
    decay = f32(2.0 * weight_decay / n)  # d(weight_decay * mean(|row|^2 per rating))/d(row)
    low = f32(low)
    high = f32(high)
    n_users_touched = _assign_slots(users, mark_user, slot_user, touched_user, step)
    n_items_touched = _assign_slots(items, mark_item, slot_item, touched_item, step)
    _group(users, slot_user, n_users_touched, start_user, order_user, cursor)
    _group(items, slot_item, n_items_touched, start_item, order_item, cursor)

    # forward, ratings split between threads: d(loss)/d(prediction) and each rating's share of the two
    # rows' gradients, so that later phases read only their own rows and no thread reads a row another
    # thread is updating
    g = global_bias[0]
    dropping = keep_from > 0
    keep_scale = f32(keep_scale)
    key = np.int64(step_key)
    per = (n + n_parts - 1) // n_parts
    for part in prange(n_parts):
        end = min(n, (part + 1) * per)
        for b in range(part * per, end):
            if b + PREFETCH_AHEAD < end:
                _prefetch_row(user_vec, users[b + PREFETCH_AHEAD])
                _prefetch_row(item_vec, items[b + PREFETCH_AHEAD])
            u = users[b]
            i = items[b]
            raw = user_bias[u, 0] + item_bias[i, 0] + g
            if dropping:  # contrib_* hold d(score)/d(row) for now; scaled by dp below
                raw = _dropped_dot(raw, b, u, i, user_vec, item_vec, contrib_user, contrib_item, key, keep_from,
                                   keep_scale)
            else:
                for d in range(dim):
                    raw += user_vec[u, d] * item_vec[i, d]
            pred, slope = _output(raw, low, high, sigmoid)
            err[b] = pred - ratings[b]
            dp = scale * err[b] * slope
            dpred[b] = dp
            if dropping:
                for d in range(dim):
                    contrib_user[b, d] *= dp
                    contrib_item[b, d] *= dp
            else:
                for d in range(dim):
                    contrib_user[b, d] = dp * item_vec[i, d]
                    contrib_item[b, d] = dp * user_vec[u, d]

    squared = 0.0
    grad_global = f32(0.0)
    for b in range(n):
        squared += err[b] * err[b]
        grad_global += dpred[b]
    step_size, inv_c2, b1, b2, one_b1, one_b2, eps = _adam_scalars(lr, beta1, beta2, eps, step)
    clip = grad_clip > 0.0  # clipping needs every gradient before any update: two passes instead of one
    coef = f32(1.0)

    # gradients, then (unless clipping) Adam at once, distinct rows split between threads
    n_rows = n_users_touched + n_items_touched  # users' slots, then items', as one range to split
    per = (n_rows + n_parts - 1) // n_parts
    for part in prange(n_parts):
        end = min(n_rows, (part + 1) * per)
        for q in range(part * per, end):
            ahead = q + PREFETCH_AHEAD
            if ahead < min(end, n_users_touched):
                _prefetch_row(user_moments, touched_user[ahead])
            elif n_users_touched <= ahead < end:
                _prefetch_row(item_moments, touched_item[ahead - n_users_touched])
            if q < n_users_touched:
                _row_gradient(q, touched_user[q], user_vec, user_bias, contrib_user, start_user, order_user, dpred,
                              decay, grad_user_vec, grad_user_bias)
                if not clip:
                    _adam_row(user_vec, user_bias, user_moments, grad_user_vec, grad_user_bias, q, touched_user[q],
                              coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
            else:
                k = q - n_users_touched
                _row_gradient(k, touched_item[k], item_vec, item_bias, contrib_item, start_item, order_item, dpred,
                              decay, grad_item_vec, grad_item_bias)
                if not clip:
                    _adam_row(item_vec, item_bias, item_moments, grad_item_vec, grad_item_bias, k, touched_item[k],
                              coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)

    if clip:
        coef = _clip_coef(grad_clip, grad_global, grad_user_vec, grad_user_bias, n_users_touched, grad_item_vec,
                          grad_item_bias, n_items_touched)
        for part in prange(n_parts):
            for q in range(part * per, min(n_rows, (part + 1) * per)):
                if q < n_users_touched:
                    _adam_row(user_vec, user_bias, user_moments, grad_user_vec, grad_user_bias, q, touched_user[q],
                              coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
                else:
                    k = q - n_users_touched
                    _adam_row(item_vec, item_bias, item_moments, grad_item_vec, grad_item_bias, k, touched_item[k],
                              coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
    _adam_global(global_bias, global_moments, grad_global * coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
    return squared / n


row_adam_step_parallel = _jit(_row_adam_step, parallel=True)


def _row_adam_step_serial(tables, work, settings, users, items, ratings, step, step_key):
    """``_row_adam_step`` on one thread: the same math, the same per-row sums in batch order, but each rating adds
    its share straight into its two rows' gradients as the forward pass computes it.

    The threaded step keeps every rating's share in (B, D) buffers and groups the ratings by row, so that
    no thread reads a row another thread is updating; one thread needs neither, and skipping them makes
    the step loop about 28% faster (3M ratings, dim 50: 3.3-4.0M instead of 2.6-3.1M ratings/s; whole
    epochs in the CLI about 17%). The dashboard trains on one thread (ui/cores.py). Float sums may round
    differently from the threaded step (fastmath).
    """
    user_vec, item_vec, user_bias, item_bias, global_bias, user_moments, item_moments, global_moments = tables
    (grad_user_vec, grad_item_vec, grad_user_bias, grad_item_bias, contrib_user, contrib_item, dpred, err,
     mark_user, mark_item, slot_user, slot_item, touched_user, touched_item, start_user, start_item,
     order_user, order_item, cursor) = work
    low, high, sigmoid, weight_decay, lr, beta1, beta2, eps, grad_clip, keep_from, keep_scale = settings
    f32 = np.float32
    n = users.shape[0]
    dim = user_vec.shape[1]
    scale = f32(2.0 / n)
    decay = f32(2.0 * weight_decay / n)
    low = f32(low)
    high = f32(high)
    n_users_touched = _assign_slots(users, mark_user, slot_user, touched_user, step)
    n_items_touched = _assign_slots(items, mark_item, slot_item, touched_item, step)
    grad_user_vec[:n_users_touched] = 0.0  # (K_u, D): sums start at zero, then add in batch order
    grad_item_vec[:n_items_touched] = 0.0
    grad_user_bias[:n_users_touched] = 0.0
    grad_item_bias[:n_items_touched] = 0.0

    g = global_bias[0]
    dropping = keep_from > 0
    keep_scale = f32(keep_scale)
    key = np.int64(step_key)
    squared = 0.0
    grad_global = f32(0.0)
    for b in range(n):
        if b + PREFETCH_AHEAD < n:
            _prefetch_row(user_vec, users[b + PREFETCH_AHEAD])
            _prefetch_row(item_vec, items[b + PREFETCH_AHEAD])
        u = users[b]
        i = items[b]
        raw = user_bias[u, 0] + item_bias[i, 0] + g
        if dropping:  # contrib_*[b] hold d(score)/d(row) until d(loss)/d(score) is known
            raw = _dropped_dot(raw, b, u, i, user_vec, item_vec, contrib_user, contrib_item, key, keep_from,
                               keep_scale)
        else:
            for d in range(dim):
                raw += user_vec[u, d] * item_vec[i, d]
        pred, slope = _output(raw, low, high, sigmoid)
        e = pred - ratings[b]
        dp = scale * e * slope
        squared += e * e
        grad_global += dp
        ku = slot_user[u]
        ki = slot_item[i]
        if dropping:
            for d in range(dim):
                grad_user_vec[ku, d] += contrib_user[b, d] * dp + decay * user_vec[u, d]
                grad_item_vec[ki, d] += contrib_item[b, d] * dp + decay * item_vec[i, d]
        else:
            for d in range(dim):
                grad_user_vec[ku, d] += dp * item_vec[i, d] + decay * user_vec[u, d]
                grad_item_vec[ki, d] += dp * user_vec[u, d] + decay * item_vec[i, d]
        grad_user_bias[ku, 0] += dp + decay * user_bias[u, 0]
        grad_item_bias[ki, 0] += dp + decay * item_bias[i, 0]

    step_size, inv_c2, b1, b2, one_b1, one_b2, eps = _adam_scalars(lr, beta1, beta2, eps, step)
    coef = f32(1.0)
    if grad_clip > 0.0:
        coef = _clip_coef(grad_clip, grad_global, grad_user_vec, grad_user_bias, n_users_touched, grad_item_vec,
                          grad_item_bias, n_items_touched)
    for k in range(n_users_touched):
        if k + PREFETCH_AHEAD < n_users_touched:
            _prefetch_row(user_moments, touched_user[k + PREFETCH_AHEAD])
        _adam_row(user_vec, user_bias, user_moments, grad_user_vec, grad_user_bias, k, touched_user[k], coef, b1, b2,
                  one_b1, one_b2, step_size, inv_c2, eps)
    for k in range(n_items_touched):
        if k + PREFETCH_AHEAD < n_items_touched:
            _prefetch_row(item_moments, touched_item[k + PREFETCH_AHEAD])
        _adam_row(item_vec, item_bias, item_moments, grad_item_vec, grad_item_bias, k, touched_item[k], coef, b1, b2,
                  one_b1, one_b2, step_size, inv_c2, eps)
    _adam_global(global_bias, global_moments, grad_global * coef, b1, b2, one_b1, one_b2, step_size, inv_c2, eps)
    return squared / n


row_adam_step_serial = _jit(_row_adam_step_serial)


def _row_adam_steps_py(parallel, tables, work, settings, users, items, ratings, batch_size, first_step, step_keys,
                       n_parts, losses):
    """Consecutive batches of ``batch_size`` in one call (one dispatch from Python instead of one per step);
    ``step_keys[k]`` is the k-th batch's dropout key. Writes each batch's MSE into ``losses``."""
    n = users.shape[0]
    k = 0
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        if parallel:
            losses[k] = row_adam_step_parallel(tables, work, settings, users[start:end], items[start:end],
                                               ratings[start:end], first_step + k, step_keys[k], n_parts)
        else:
            losses[k] = row_adam_step_serial(tables, work, settings, users[start:end], items[start:end],
                                             ratings[start:end], first_step + k, step_keys[k])
        k += 1
    return k


row_adam_steps = _jit(_row_adam_steps_py)


def _shuffle_py(users, items, ratings, bucket, draws, n_buckets, n_parts, out_users, out_items, out_ratings):
    """A uniformly random permutation of the three columns into ``out_*`` (Rao-Sandelius).

    Every rating goes to its random ``bucket`` (kept in input order), then each bucket, small enough to
    sit in cache, gets a Fisher-Yates shuffle driven by ``draws``. Uniform over all permutations, set
    by the caller's random draws alone (so seeded runs repeat), with no pass of random reads over the
    whole data as a gather through a permutation would need.
    """
    n = users.shape[0]
    per = (n + n_parts - 1) // n_parts
    counts = np.zeros((n_parts, n_buckets + 1), np.int64)
    for part in prange(n_parts):  # how many of each part's ratings fall in each bucket
        for k in range(part * per, min(n, (part + 1) * per)):
            counts[part, bucket[k] + 1] += 1
    starts = np.zeros(n_buckets + 1, np.int64)
    cursors = np.empty((n_parts, n_buckets), np.int64)  # where each part writes into each bucket
    for b in range(n_buckets):
        offset = starts[b]
        for part in range(n_parts):
            cursors[part, b] = offset
            offset += counts[part, b + 1]
        starts[b + 1] = offset
    for part in prange(n_parts):  # scatter: sequential reads, one write stream per bucket
        for k in range(part * per, min(n, (part + 1) * per)):
            b = bucket[k]
            j = cursors[part, b]
            out_users[j] = users[k]
            out_items[j] = items[k]
            out_ratings[j] = ratings[k]
            cursors[part, b] = j + 1
    for b in prange(n_buckets):  # Fisher-Yates inside each bucket
        lo = starts[b]
        for k in range(starts[b + 1] - 1, lo, -1):
            # a draw in [0, 2^32) scaled to lo..k (multiply-shift; bias below size / 2^32)
            j = lo + ((np.uint64(draws[k]) * np.uint64(k - lo + 1)) >> np.uint64(32))
            out_users[k], out_users[j] = out_users[j], out_users[k]
            out_items[k], out_items[j] = out_items[j], out_items[k]
            out_ratings[k], out_ratings[j] = out_ratings[j], out_ratings[k]


_shuffle_parallel = _jit(_shuffle_py, parallel=True)
_shuffle_serial = _jit(_shuffle_py)
SHUFFLE_BUCKET = 32_768  # ratings per bucket on average: 384 KiB of (int32, int32, float32), inside L2


def shuffle(rng: np.random.Generator, users, items, ratings, out_users, out_items, out_ratings) -> None:
    """Write a uniformly random permutation of (users, items, ratings) into the ``out_*`` arrays."""
    n = len(users)
    n_buckets = int(min(max(1, n // SHUFFLE_BUCKET), np.iinfo(np.uint16).max))
    bucket = rng.integers(0, n_buckets, n, dtype=np.uint16)  # (N,)
    draws = rng.integers(0, 2**32, n, dtype=np.uint32)  # (N,)
    n_threads = threads()
    fn = _shuffle_parallel if n_threads > 1 else _shuffle_serial
    fn(users, items, ratings, bucket, draws, n_buckets, n_threads, out_users, out_items, out_ratings)


def _probe_py(x):
    for k in prange(x.shape[0]):
        x[k] += 1.0


_probe = _jit(_probe_py, parallel=True)


_probe_lock = threading.Lock()


@functools.cache
def threads() -> int:
    """How many threads the step runs on: numba's thread count under OpenMP or TBB, else 1.

    numba's own fallback layer (workqueue) makes the step slower than one thread, so it is not used.
    """
    if not AVAILABLE or numba.get_num_threads() < 2:
        return 1
    try:
        with _probe_lock:  # workqueue, if that is what loads, must not be launched from two threads at once
            _probe(np.zeros(4))  # launches numba's threading layer, which picks TBB, then OpenMP, then workqueue
    except Exception:  # pragma: no cover - no layer could load
        return 1
    return numba.get_num_threads() if numba.threading_layer() in ("omp", "tbb") else 1


_HUGE_PAGE = 2 << 20


def huge_page_array(values: np.ndarray) -> np.ndarray:
    """A copy of ``values`` in memory the kernel is asked to back with 2 MiB pages (where it allows it).

    Each rating touches random rows of tables of tens of megabytes; with 4 KiB pages nearly every
    such touch also misses the address-translation cache, so large pages make the step faster.
    Small arrays, or systems without transparent huge pages, get a plain copy.
    """
    if values.nbytes < _HUGE_PAGE or not hasattr(mmap, "MADV_HUGEPAGE"):
        return values.copy()
    size = -(-values.nbytes // _HUGE_PAGE) * _HUGE_PAGE + _HUGE_PAGE  # room to start on a 2 MiB boundary
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    raw = np.frombuffer(area, np.uint8)  # keeps ``area`` alive as long as any view of it
    start = -raw.ctypes.data % _HUGE_PAGE
    try:
        area.madvise(mmap.MADV_HUGEPAGE, start, size - start)
    except OSError:  # transparent huge pages switched off: ordinary pages, same results
        pass
    out = raw[start:start + values.nbytes].view(values.dtype).reshape(values.shape)
    out[...] = values
    return out


class CompiledRowAdam(torch.optim.Optimizer):
    """State for the compiled row-Adam steps over a model's CPU tables (numpy views sharing the tensors' memory).

    A torch Optimizer only so that learning-rate schedulers can adjust ``param_groups[0]["lr"]``.
    """

    def __init__(self, model, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(list(model.parameters()), {"lr": lr})
        weights = [model.user_embeddings.weight, model.item_embeddings.weight, model.user_biases.weight,
                   model.item_biases.weight, model.global_bias]
        dim = weights[0].shape[1]
        n_users, n_items = len(weights[0]), len(weights[1])
        for w in weights[:2]:  # the embedding tables move to huge pages; the model keeps using them
            w.data = torch.from_numpy(huge_page_array(w.detach().numpy()))
        self.tables = Tables(*(w.detach().numpy() for w in weights),
                             huge_page_array(np.zeros((n_users, 2, dim + 1), np.float32)),
                             huge_page_array(np.zeros((n_items, 2, dim + 1), np.float32)),
                             np.zeros(2, np.float32))
        self.marks = [np.zeros(n_users, np.int64), np.zeros(n_items, np.int64)]
        self.slots = [np.zeros(n_users, np.int64), np.zeros(n_items, np.int64)]
        self.work: Work | None = None  # per-batch work space, sized on the first batch
        self.betas, self.eps = betas, eps
        self.n_steps = 0
        self.threads = threads()

    def step(self, closure=None):  # pragma: no cover - the training loop calls step_batches
        raise RuntimeError("CompiledRowAdam is driven by step_batches(...), not step()")

    def step_batches(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, batch_size: int, low: float,
                     high: float, sigmoid: bool, weight_decay: float, grad_clip: float | None,
                     dropout: float = 0.0, seed: int = 0) -> np.ndarray:
        """Consecutive batches of ``batch_size`` in one compiled call; returns each batch's MSE."""
        n_batches = -(-len(users) // batch_size)
        self._size_work(min(batch_size, len(users)))
        losses = np.empty(n_batches, np.float64)
        settings = Settings(float(low), float(high), bool(sigmoid), float(weight_decay), float(self.param_groups[0]["lr"]),
                            self.betas[0], self.betas[1], self.eps, float(grad_clip or 0.0),
                            dropout_module.threshold(dropout) if dropout > 0 else 0, 1.0 / (1.0 - dropout))
        keys = np.array([dropout_module.step_key(seed, self.n_steps + 1 + k) for k in range(n_batches)], np.int64)
        row_adam_steps(self.threads > 1, self.tables, self.work, settings, users, items, ratings, batch_size,
                       self.n_steps + 1, keys, self.threads, losses)
        self.n_steps += n_batches
        return losses

    def _size_work(self, n: int) -> None:
        if self.work is None or len(self.work.grad_user_vec) < n:
            dim = self.tables[0].shape[1]
            grads = (np.zeros((n, dim), np.float32), np.zeros((n, dim), np.float32),  # users', items' vectors
                     np.zeros((n, 1), np.float32), np.zeros((n, 1), np.float32))  # their biases
            per_rating = (np.zeros((n, dim), np.float32), np.zeros((n, dim), np.float32),  # shares of the gradients
                          np.zeros(n, np.float32), np.zeros(n, np.float32))  # d(loss)/d(prediction), error
            rows = (np.empty(n, np.int64), np.empty(n, np.int64),  # touched users, items
                    np.empty(n + 1, np.int64), np.empty(n + 1, np.int64),  # group starts per slot
                    np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64))  # order, cursor
            self.work = Work(*grads, *per_rating, self.marks[0], self.marks[1], self.slots[0], self.slots[1], *rows)
