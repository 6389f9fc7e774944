"""The choice model's math and training loop (torch, CPU or CUDA): vectors learned from which movies people chose.

score(u, i) = P[u] . Q[i] + c[i]. Every training rating (u, i, r) is one observed choice of item i by user u,
weighted by (r / the scale's top) ** 2; the loss is the weighted negative log-likelihood of those choices under a
softmax over items. A batch is ``batch_size`` random ratings (a user's ratings spread over many steps, as
the rating model's are); the softmax runs over every item (``full``: the batch's users score the whole catalogue,
users x items x dim per step) or, for catalogues too large for that, over the chosen item and ``negatives`` items
drawn by popularity and shared across the batch, with the log-Q correction for how often each is drawn
(``sampled``).

The Train form's knobs drive it as they drive the rating model: embedding dimension, learning rate (Adam),
batch size (ratings per step), epochs, weight decay (``sparse_adam``: an L2 penalty per rating on the rows it
touches; ``adam``: decoupled weight decay on every parameter, AdamW), the learning-rate schedule and early stopping
(both on NDCG@k of a fixed sample of validation users, measured after every epoch), and the seed. Gradients
are written out by hand (a step is a few matrix products), so no autograd graph is built per step.

The user and item vectors live in one table ``W`` of (users + items) rows and D + 1 columns: a user's row is
[P_u, 1], an item's [Q_i, c_i], so a score is one dot product of two rows (the bias rides in the last column)
and one row-wise Adam step updates everything a batch touched. Adam works element by element, so this is the
same arithmetic as separate tables (the same NDCG epoch by epoch) with fewer small operations per step, which
on the built-in data cost more than the matrix products (``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from cfcore.device import resolve_device
from cfcore.progress import RankerEpochRecord, RankerStepRecord
from cfcore.ratings import Ratings
from cfcore.rowadam import RowAdam

if TYPE_CHECKING:  # the knobs it reads; not imported at run time, since the config finds the kinds that import this
    from cfcore.config import TrainConfig

INIT_STD = 0.01  # the rating model's initialisation, for the same reason: biases (popularity) learn first
LOG_EVERY = 20  # steps between step records
EVAL_BATCH = 512  # users scored at once for the per-epoch NDCG
WEIGHT_POWER = 2.0  # a choice's weight is (rating / top) ** WEIGHT_POWER
DRAW_POWER = 1.0  # negatives are drawn with probability ~ (ratings + 1) ** DRAW_POWER (1: by popularity)


@dataclass(frozen=True, eq=False)
class ChoiceArrays:
    """A choice model's learned arrays (numpy): user vectors (U, D), item vectors (I, D), item bias (I,)."""

    user_vectors: np.ndarray
    item_vectors: np.ndarray
    item_bias: np.ndarray


@dataclass(frozen=True, eq=False)
class Gradients:
    """One batch's loss and the gradients of its rows of ``W`` (D + 1 columns): its distinct users (G,) with
    (G, D + 1), the last column zero (the constant 1); items: every item (item_rows None, (I, D + 1)) or the
    items item_rows (R,) with (R, D + 1), which start with the batch's chosen items row for row (B,) and may
    repeat. An item's last column is its bias's gradient."""

    loss: float
    users: torch.Tensor
    local: torch.Tensor  # (B,) each choice's position in ``users``
    d_users: torch.Tensor
    item_rows: torch.Tensor | None
    d_items: torch.Tensor


def choice_weights(train: Ratings) -> np.ndarray:
    """(n,) how much each rating counts as a choice: (rating / the scale's top) ** WEIGHT_POWER, so a 5-star pick
    counts four times a 2.5-star one. Measured on the built-in data, split seed 0, NDCG@10: power 1 0.239,
    2 0.246, 3 0.246, 4 0.244."""
    top = max(float(train.scale.max), 1e-9)
    share = np.clip(train.rating.astype(np.float64) / top, 0.0, None)  # a scale below zero: no negative choices
    return np.clip(share**WEIGHT_POWER, 1e-3, None)


class ChoiceTrainer:
    """Trains a choice model on ``train`` epoch by epoch (``epoch()``), judging each epoch by NDCG@k on a fixed
    sample of ``val``'s users; keeps the best epoch's arrays (``best()``)."""

    def __init__(self, train: Ratings, val: Ratings, config: TrainConfig, *, negatives: int, full_softmax_items: int,
                 eval_users: int, k: int = 10, threshold: float = 4.0) -> None:
        self.train, self.config, self.k = train, config, k
        self.device = resolve_device(config.device)
        self.batch_size = config.batch_for(len(train))
        self.full = train.n_items <= full_softmax_items
        self.negatives = max(1, min(negatives, train.n_items))
        generator = torch.Generator().manual_seed(config.seed + 1)  # not the rating model's draws
        dev = self.device
        n_users, dim = train.n_users, config.embedding_dim
        self.n_users = n_users
        self.W = torch.zeros(n_users + train.n_items, dim + 1)  # [P, 1] over [Q, c] (the module's docstring)
        self.W[:n_users, :dim] = torch.randn(n_users, dim, generator=generator) * INIT_STD
        self.W[n_users:, :dim] = torch.randn(train.n_items, dim, generator=generator) * INIT_STD
        self.W[:n_users, dim] = 1.0
        self.W = self.W.to(dev)
        # users, items and weights of the training choices, grouped by user (full) or as they come (sampled)
        order = np.lexsort((train.item_idx, train.user_idx))
        self._user = torch.as_tensor(train.user_idx[order], dtype=torch.long, device=dev)
        self._item = torch.as_tensor(train.item_idx[order], dtype=torch.long, device=dev)
        self._weight = torch.as_tensor(choice_weights(train)[order], dtype=torch.float32, device=dev)
        self._counts = np.bincount(train.user_idx, minlength=train.n_users)
        popularity = (np.bincount(train.item_idx, minlength=train.n_items).astype(np.float64) + 1.0) ** DRAW_POWER
        self._draw_p = torch.as_tensor(popularity / popularity.sum(), dtype=torch.float32, device=dev)
        self._log_draw_p = torch.log(self._draw_p)
        self._rng = np.random.default_rng(config.seed)
        self._torch_rng = torch.Generator(device="cpu").manual_seed(config.seed)
        self.sparse = config.optimizer == "sparse_adam"
        decay = 0.0 if self.sparse else config.weight_decay
        if self.sparse:
            self._opt = RowAdam([self.W], lr=config.learning_rate)
        else:
            self.W.grad = torch.zeros_like(self.W)
            # decoupled weight decay (AdamW): added to the gradient (Adam's way) it would dwarf a mean choice-loss
            # gradient and pull every list onto the most popular movies
            self._opt = torch.optim.AdamW([self.W], lr=config.learning_rate, weight_decay=decay)
        self._scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self._opt, mode="max", factor=config.lr_factor, patience=config.lr_patience) \
            if config.lr_patience is not None else None
        self._eval = _EvalSample.of(train, val, eval_users, threshold, config.seed, dev)
        self.step_count = 0
        self.best_epoch: int | None = None
        self.best_ndcg = -math.inf
        self._best: torch.Tensor | None = None
        self.stale_epochs = 0  # epochs since the best one
        self.diverged = False
        self._stop = False

    @property
    def P(self) -> torch.Tensor:
        """(U, D) the user vectors (a view of ``W``)."""
        return self.W[:self.n_users, :-1]

    @property
    def Q(self) -> torch.Tensor:
        """(I, D) the item vectors (a view of ``W``)."""
        return self.W[self.n_users:, :-1]

    @property
    def c(self) -> torch.Tensor:
        """(I, 1) the item biases (a view of ``W``)."""
        return self.W[self.n_users:, -1:]

    # -- one epoch --------------------------------------------------------------------------

    def stop(self) -> None:
        """End the current epoch after its current step (safe from another thread)."""
        self._stop = True

    @property
    def stopped(self) -> bool:
        return self._stop

    def epoch(self, number: int) -> Iterator[RankerStepRecord | RankerEpochRecord]:
        """Train one epoch, yielding step records, then its epoch record (also when Stop cut it short and
        no epoch was kept yet: those weights are then the ones kept, as the rating model does)."""
        started = time.perf_counter()
        batches = self._rating_batches()
        n_batches = len(batches)
        total = window = 0.0
        seen = window_steps = done = 0
        for done, rows in enumerate(batches, start=1):
            loss = self._step(rows)
            if not math.isfinite(loss):  # diverged: the learning rate is too high for these lists
                self.diverged = True
                self._stop = True
            total, window = total + loss * len(rows), window + loss
            seen += len(rows)
            window_steps += 1
            self.step_count += 1
            if self.step_count % LOG_EVERY == 0 or done == n_batches:
                yield RankerStepRecord(self.step_count, number, done / n_batches, window / window_steps)
                window, window_steps = 0.0, 0
            if self._stop:
                break
        completed = done / max(1, n_batches)
        if self.diverged or (completed < 1.0 and self.best_epoch is not None):
            return  # stopped mid-epoch (or diverged): the best epoch so far is kept
        ndcg = self._evaluate()
        improved = math.isfinite(ndcg) and ndcg > self.best_ndcg + 1e-6 or self.best_epoch is None
        if improved:
            self.best_epoch, self.best_ndcg = number, ndcg if math.isfinite(ndcg) else -math.inf
            self._best = self.keep()
            self.stale_epochs = 0
        else:
            self.stale_epochs += 1
        if self._scheduler is not None and math.isfinite(ndcg):
            self._scheduler.step(ndcg)
        yield RankerEpochRecord(number, total / max(1, seen), ndcg, self._eval.n_users, self._eval.floor,
                                time.perf_counter() - started, improved, self._opt.param_groups[0]["lr"], completed)

    def _rating_batches(self) -> list[torch.Tensor]:
        """Random ratings in batches of ``batch_size`` (a user's ratings spread over many batches, so every step
        moves the user vectors a little, as the rating model's steps do)."""
        order = torch.as_tensor(self._rng.permutation(len(self.train)), device=self.device)
        return list(torch.split(order, self.batch_size))

    # -- a step -----------------------------------------------------------------------------

    @torch.no_grad()
    def _step(self, rows: torch.Tensor) -> float:
        """One optimiser step on the choices ``rows``; the batch's mean loss (nats per unit of weight)."""
        if self.full:
            grads = self.full_gradients(rows)
        else:
            negatives = torch.multinomial(self._draw_p, self.negatives, replacement=True,
                                          generator=self._torch_rng).to(self.device)  # (N,)
            grads = self.sampled_gradients(rows, negatives)
        self._apply(grads, rows)
        return grads.loss

    def full_gradients(self, rows: torch.Tensor) -> Gradients:
        """Loss and gradients of the choices ``rows`` under a softmax over every item (each distinct user of the
        batch scores the catalogue once)."""
        users, items, weight = self._user[rows], self._item[rows], self._weight[rows]  # (B,) each
        total_weight = weight.sum()
        batch_users, local = torch.unique(users, return_inverse=True)  # (G,), (B,)
        vec = self.W.index_select(0, batch_users)  # (G, D + 1), the last column 1
        item_table = self.W[self.n_users:]  # (I, D + 1), the last column the bias
        scores = vec @ item_table.T  # (G, I)
        lse = torch.logsumexp(scores, dim=1)  # (G,)
        loss = (weight * (lse[local] - scores[local, items])).sum() / total_weight
        user_weight = torch.zeros(len(batch_users), device=self.device).index_add_(0, local, weight)  # (G,)
        d_scores = scores.sub_(lse[:, None]).exp_().mul_(user_weight[:, None])  # (G, I) softmax x weight, in place
        d_scores.index_put_((local, items), -weight, accumulate=True)
        d_scores /= total_weight
        d_users = d_scores @ item_table
        d_users[:, -1] = 0.0  # the constant column
        return Gradients(float(loss), batch_users, local, d_users, None, d_scores.T @ vec)

    def sampled_gradients(self, rows: torch.Tensor, negatives: torch.Tensor) -> Gradients:
        """Loss and gradients of the choices ``rows`` against the chosen item and ``negatives`` (drawn by
        popularity with replacement, shared by the batch; the log-Q correction lowers each by the log of how
        often it is drawn; a negative that is the chosen item itself, an accidental hit, is left out of that
        choice's softmax).

        Two shortcuts, exact: an item drawn m times is scored once with log m added; and since the negatives are
        shared, a user's scores for them are the same for each of their choices, so they are computed once per
        distinct user of the batch (G x N, not B x N: half the work on MovieLens, where a batch of 1,024 ratings
        holds ~550 users), and each choice adds only its own chosen item."""
        users, items, weight = self._user[rows], self._item[rows], self._weight[rows]  # (B,) each
        share = weight / weight.sum()  # (B,)
        batch_users, local = torch.unique(users, return_inverse=True)  # (G,), (B,)
        drawn, copies = torch.unique(negatives, return_counts=True)  # (N,) sorted, each drawn ``copies`` times
        vec = self.W.index_select(0, batch_users)  # (G, D + 1), the last column 1
        vec_b = vec.index_select(0, local)  # (B, D + 1)
        item_table = self.W[self.n_users:]  # (I, D + 1), the last column the bias
        q_pos = item_table.index_select(0, items)  # (B, D + 1)
        positive = (vec_b * q_pos).sum(1)  # (B,) with the bias
        q_neg = item_table.index_select(0, drawn)  # (N, D + 1)
        offset = torch.log(copies.float()) - self._log_draw_p[drawn] - math.log(len(negatives))  # log-Q, copies
        negative = torch.addmm(offset[None, :], vec, q_neg.T)  # (G, N) with the bias
        top = negative.max(1).values  # (G,)
        expo = negative.sub_(top[:, None]).exp_()  # (G, N) exp(score - top), in place
        # accidental hits: choice b's own item among the negatives, at position slot[b]
        slot = torch.searchsorted(drawn, items).clamp_(max=len(drawn) - 1)  # (B,)
        hit = drawn[slot] == items  # (B,)
        hit_expo = torch.where(hit, expo[local, slot], 0.0)  # (B,)
        rest = (expo.sum(1)[local] - hit_expo).clamp_min(0)  # (B,) each choice's negatives, scaled by exp(-top)
        top_b = top[local]
        ceiling = torch.maximum(top_b, positive)  # (B,) for a log-sum-exp that cannot overflow
        lse = ceiling + torch.log(torch.exp(positive - ceiling) + rest * torch.exp(top_b - ceiling))  # (B,)
        loss = (share * (lse - positive)).sum()
        d_pos = share * (torch.exp(positive - lse) - 1.0)  # (B,)
        coef = share * torch.exp(top_b - lse)  # (B,) d loss / d negative score = coef * expo
        d_neg = expo.mul_(torch.zeros_like(top).index_add_(0, local, coef)[:, None])  # (G, N), in place
        d_neg.index_put_((local, slot), -coef * hit_expo, accumulate=True)  # no gradient through a hit
        d_users = torch.addmm(torch.zeros_like(vec).index_add_(0, local, d_pos[:, None] * q_pos), d_neg, q_neg)
        d_users[:, -1] = 0.0  # the constant column
        return Gradients(float(loss), batch_users, local, d_users,
                         torch.cat([items, drawn]), torch.cat([d_pos[:, None] * vec_b, d_neg.T @ vec]))

    def _apply(self, g: Gradients, rows: torch.Tensor) -> None:
        """Add the L2 terms and take the Adam step: row-wise on the rows touched (sparse_adam), or dense."""
        d_vec, item_rows, d_items = g.d_users, g.item_rows, g.d_items
        decay, n_users = self.config.weight_decay, self.n_users
        if self.sparse and decay:
            # an L2 penalty per rating on the two vectors it touches (not the biases), as the rating model's
            # sparse_adam applies it
            items, weight = self._item[rows], self._weight[rows]
            share = weight / weight.sum()  # (B,)
            per_user = torch.zeros(len(g.users), device=self.device).index_add_(0, g.local, share)  # (G,)
            d_vec[:, :-1] += 2 * decay * per_user[:, None] * self.W.index_select(0, g.users)[:, :-1]
            penalty = 2 * decay * share[:, None] * self.W.index_select(0, n_users + items)[:, :-1]  # (B, D)
            if item_rows is None:
                d_items[:, :-1].index_add_(0, items, penalty)
            else:  # item_rows starts with the chosen items, row for row
                d_items[:len(items), :-1] += penalty
        if item_rows is None:  # the full softmax moves every item
            item_rows = torch.arange(len(d_items), device=self.device)
        elif self.sparse:
            item_rows, d_items = _summed(item_rows, d_items)
        if self.sparse:
            self._opt.step_rows([(self.W, torch.cat([g.users, n_users + item_rows]), torch.cat([d_vec, d_items]))])
            return
        self.W.grad.zero_()
        self.W.grad.index_add_(0, g.users, d_vec)
        self.W.grad[n_users:].index_add_(0, item_rows, d_items)
        self._opt.step()
        self.W[:n_users, -1] = 1.0  # AdamW's decay shrinks every entry; the users' constant column stays 1

    def time_epoch(self, budget_seconds: float = 1.0) -> float:
        """Seconds one epoch will take: steps for about ``budget_seconds`` at the run's pace, extrapolated to
        the epoch's steps, plus one judging of the validation sample (this trainer is spent afterwards)."""
        batches = self._rating_batches()
        started = time.perf_counter()
        done = 0
        for rows in batches:
            self._step(rows)
            done += 1
            if time.perf_counter() - started > budget_seconds:
                break
        pace = (time.perf_counter() - started) / max(1, done)
        judged = time.perf_counter()
        self._evaluate()
        return pace * len(batches) + (time.perf_counter() - judged)

    @staticmethod
    def memory_needed(n_users: int, n_items: int, dim: int, batch_size: int, softmax_width: int) -> int:
        """Bytes: the vectors, Adam's two moments and the kept copy (4x), and one batch's scores and gradients."""
        return 4 * 4 * (n_users + n_items) * (dim + 1) + 3 * 4 * batch_size * softmax_width

    # -- judging and keeping ----------------------------------------------------------------

    @torch.no_grad()
    def _evaluate(self) -> float:
        return self._eval.ndcg(self.W[:self.n_users], self.W[self.n_users:], self.k)  # [P, 1] . [Q, c]

    def keep(self) -> torch.Tensor:
        """A copy of the current weights."""
        return self.W.detach().clone()

    def restore(self, kept: torch.Tensor) -> None:
        """End with ``kept`` (from ``keep``) as the weights ``arrays()`` returns."""
        self._best = kept

    def arrays(self, best: bool = True) -> ChoiceArrays:
        """The kept (best) epoch's arrays, or the current ones."""
        table = (self._best if best and self._best is not None else self.W).detach().cpu().numpy()
        users, items = table[:self.n_users], table[self.n_users:]
        return ChoiceArrays(np.ascontiguousarray(users[:, :-1]), np.ascontiguousarray(items[:, :-1]),
                            items[:, -1].copy())

    def item_vectors(self) -> np.ndarray:
        """(I, D) the current item vectors (for the map over training)."""
        return self.Q.detach().cpu().numpy()


def _summed(rows: torch.Tensor, grads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique ``rows`` and their gradients summed per row (RowAdam wants one entry per row)."""
    unique, inverse = torch.unique(rows, return_inverse=True)
    return unique, torch.zeros(len(unique), grads.shape[1], device=grads.device,
                               dtype=grads.dtype).index_add_(0, inverse, grads)


@dataclass(frozen=True, eq=False)
class _EvalSample:
    """A fixed sample of validation users with a relevant held-out rating: their training items (left out of
    their lists) and their relevant items, to judge each epoch's lists the same way."""

    users: torch.Tensor  # (n,)
    seen_rows: torch.Tensor  # (m,) row in ``users`` of each training rating of theirs
    seen_items: torch.Tensor  # (m,)
    relevant_keys: np.ndarray  # (r,) sorted row * n_items + item of each relevant held-out rating
    n_relevant: np.ndarray  # (n,) relevant items per user
    floor: float  # most popular's NDCG@k for these users

    @property
    def n_users(self) -> int:
        return len(self.users)

    @classmethod
    def of(cls, train: Ratings, val: Ratings, n: int, threshold: float, seed: int, device) -> _EvalSample:
        hit = val.rating >= threshold
        users = np.unique(val.user_idx[hit])
        if len(users) > n:
            users = np.sort(np.random.default_rng(seed).choice(users, n, replace=False))
        position = np.full(train.n_users, -1, np.int64)
        position[users] = np.arange(len(users))
        mine = position[train.user_idx] >= 0
        judged = hit & (position[val.user_idx] >= 0)
        rows = position[val.user_idx[judged]]
        keys = np.sort(rows * train.n_items + val.item_idx[judged].astype(np.int64))
        sample = cls(torch.as_tensor(users, device=device), torch.as_tensor(position[train.user_idx[mine]], device=device),
                     torch.as_tensor(train.item_idx[mine], device=device), keys,
                     np.bincount(rows, minlength=len(users)), math.nan)
        counts = torch.as_tensor(np.bincount(train.item_idx, minlength=train.n_items), dtype=torch.float32,
                                 device=device)
        floor = sample.ndcg(torch.ones(train.n_users, 1, device=device), counts[:, None], 10)  # by popularity alone
        return replace(sample, floor=floor)

    def ndcg(self, user_rows: torch.Tensor, item_rows: torch.Tensor, k: int) -> float:
        """Mean NDCG@k of the lists these users would get now, scored user row . item row (nan when the sample
        is empty)."""
        return float(self.per_user(user_rows, item_rows, k).mean()) if self.n_users else math.nan

    def per_user(self, user_rows: torch.Tensor, item_rows: torch.Tensor, k: int) -> np.ndarray:
        """(n,) each sampled user's NDCG@k of the list they would get now; a score is user_rows[u] . item_rows[i]
        (the trainer's [P, 1] and [Q, c] rows: one product, the bias included)."""
        tops = []
        for start in range(0, self.n_users, EVAL_BATCH):
            scores = user_rows.index_select(0, self.users[start:start + EVAL_BATCH]) @ item_rows.T  # (b, I)
            mine = (self.seen_rows >= start) & (self.seen_rows < start + EVAL_BATCH)
            scores[self.seen_rows[mine] - start, self.seen_items[mine]] = -torch.inf
            tops.append(torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.cpu().numpy())
        top = np.concatenate(tops)  # (n, k), as metrics.per_user judges it, in one pass (no loop over users)
        keys = np.arange(self.n_users, dtype=np.int64)[:, None] * item_rows.shape[0] + top
        # each sampled user has a relevant item, so relevant_keys is not empty
        found = np.minimum(np.searchsorted(self.relevant_keys, keys), len(self.relevant_keys) - 1)
        hits = self.relevant_keys[found] == keys  # (n, k)
        discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
        ideal = np.cumsum(discounts)[np.minimum(self.n_relevant, top.shape[1]) - 1]
        return (hits * discounts).sum(1) / ideal
