"""Row-wise Adam: updates only the embedding rows a batch touched, so a step costs O(batch), not O(table).

Same update as ``torch.optim.SparseAdam`` (lazy Adam: a row's moments only move when the row is in a
batch; bias correction uses the global step), without building sparse gradient tensors: the caller
hands over each table's unique touched rows and their summed gradients.
"""

from __future__ import annotations

import torch


class RowAdam(torch.optim.Optimizer):
    """Lazy Adam over 2-D tables, driven by ``step_rows``; ``lr`` in ``param_groups`` as schedulers expect."""

    def __init__(self, tables: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        super().__init__(tables, {"lr": lr, "betas": betas, "eps": eps})
        self.n_steps = 0
        for table in tables:
            self.state[table] = {"exp_avg": torch.zeros_like(table), "exp_avg_sq": torch.zeros_like(table)}

    def step(self, closure=None):  # pragma: no cover - the training loop calls step_rows
        raise RuntimeError("RowAdam is driven by step_rows(updates), not step()")

    @torch.no_grad()
    def step_rows(self, updates: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
        """Apply one Adam step; ``updates`` holds (table, unique row indices (R,), summed gradients (R, D))."""
        group = self.param_groups[0]
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        self.n_steps += 1
        correction1 = 1 - beta1**self.n_steps
        correction2 = 1 - beta2**self.n_steps
        # index_select / index_copy_ rather than t[rows] and index_add_: the rows are unique, and on the CPU these
        # take a third of the time (measured on 2,000 rows of a 10,000 x 51 table)
        for table, rows, grad in updates:
            state = self.state[table]
            exp_avg = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(grad, alpha=1 - beta1)  # (R, D)
            exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            state["exp_avg"].index_copy_(0, rows, exp_avg)
            state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
            denom = exp_avg_sq.div_(correction2).sqrt_().add_(eps)  # (R, D); exp_avg_sq is a copy, free to reuse
            table.index_copy_(0, rows, table.index_select(0, rows).add_(exp_avg.div_(denom), alpha=-lr / correction1))
