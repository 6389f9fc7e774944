"""The math only: biased matrix factorisation, as in the seed design document.

prediction = user_vec . item_vec + user_bias + item_bias + global_bias, then limited to the rating
range (clipped, as the seed does, or squashed by a scaled sigmoid when ``output="sigmoid"``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from cfcore.rating_model import RatingModel, output_range

OutputMode = Literal["clip", "sigmoid"]


class BiasedMF(nn.Module):
    """User/item embeddings (normal, std 0.01), user/item biases (zeros) and a global bias.

    Parameters
    ----------
    n_users, n_items : int
        Rows of the user and item tables (indices, not raw ids).
    embedding_dim : int
        Length of each taste vector.
    y_range : (low, high)
        The rating range predictions are limited to (the data's scale; the seed used (0, 5)).
    output : "clip" | "sigmoid"
        "clip" clamps the raw score (the seed's choice; no gradient outside the range); "sigmoid"
        maps it smoothly into the range, extended by 5% each side so the ends stay reachable.
    sparse : bool
        Embedding gradients as sparse rows, for optimizers that update only the rows a batch touched.
    """

    def __init__(self, n_users: int, n_items: int, embedding_dim: int = 50,
                 y_range: tuple[float, float] = (0.0, 5.0), output: OutputMode = "clip",
                 sparse: bool = False) -> None:
        super().__init__()
        self.n_users, self.n_items, self.embedding_dim = n_users, n_items, embedding_dim
        self.y_range = (float(y_range[0]), float(y_range[1]))
        self.output = output
        self.user_embeddings = nn.Embedding(n_users, embedding_dim, sparse=sparse)
        self.item_embeddings = nn.Embedding(n_items, embedding_dim, sparse=sparse)
        self.user_biases = nn.Embedding(n_users, 1, sparse=sparse)
        self.item_biases = nn.Embedding(n_items, 1, sparse=sparse)
        self.global_bias = nn.Parameter(torch.zeros(1))
        self._init_weights()

    def _init_weights(self) -> None:
        # small random vectors so early dot products are ~0 and the biases learn first
        nn.init.normal_(self.user_embeddings.weight, std=0.01)
        nn.init.normal_(self.item_embeddings.weight, std=0.01)
        nn.init.zeros_(self.user_biases.weight)
        nn.init.zeros_(self.item_biases.weight)

    def init_global_bias(self, mean_rating: float) -> None:
        """Start the global bias where the raw score maps to the mean rating."""
        with torch.no_grad():
            self.global_bias.fill_(self.inverse_output(mean_rating))

    def raw_score(self, user_idx: torch.Tensor, item_idx: torch.Tensor) -> torch.Tensor:
        """(B,) score before the output range is applied."""
        return self.score_from_rows(self.user_embeddings(user_idx), self.item_embeddings(item_idx),
                                    self.user_biases(user_idx), self.item_biases(item_idx))

    def score_from_rows(self, user_vec: torch.Tensor, item_vec: torch.Tensor, user_bias: torch.Tensor,
                        item_bias: torch.Tensor) -> torch.Tensor:
        """(B,) raw score from rows already gathered: (B, D), (B, D), (B, 1), (B, 1).

        The one place the formula lives; the row-wise training step feeds it gathered rows so that
        gradients flow to those rows only.
        """
        dot = (user_vec * item_vec).sum(dim=1)  # (B,)
        return dot + user_bias.squeeze(-1) + item_bias.squeeze(-1) + self.global_bias

    def forward(self, user_idx: torch.Tensor, item_idx: torch.Tensor) -> torch.Tensor:
        """(B,) predicted ratings for index pairs."""
        return self.apply_output(self.raw_score(user_idx, item_idx))

    def apply_output(self, score: torch.Tensor) -> torch.Tensor:
        low, high = self.output_range()
        if self.output == "sigmoid":
            return low + (high - low) * torch.sigmoid(score)
        return torch.clamp(score, low, high)

    def inverse_output(self, rating: float) -> float:
        """The raw score that maps to ``rating``."""
        if self.output == "sigmoid":
            low, high = self.output_range()
            p = min(max((rating - low) / (high - low), 1e-4), 1 - 1e-4)
            return float(torch.logit(torch.tensor(p)))
        return float(rating)

    def output_range(self) -> tuple[float, float]:
        """(low, high) of the output: the rating scale, widened by 5% each side for the sigmoid."""
        return output_range(self.y_range, self.output)

    def model_args(self) -> dict:
        """What rebuilds this architecture (stored in checkpoints)."""
        return {"n_users": self.n_users, "n_items": self.n_items, "embedding_dim": self.embedding_dim,
                "y_range": list(self.y_range), "output": self.output}

    def to_rating_model(self) -> RatingModel:
        """The learned arrays in numpy (a copy: training may go on changing this module)."""
        def rows(table: nn.Embedding) -> np.ndarray:
            return table.weight.detach().cpu().numpy().copy()
        return RatingModel(rows(self.user_embeddings), rows(self.item_embeddings), rows(self.user_biases)[:, 0],
                           rows(self.item_biases)[:, 0], float(self.global_bias.detach()[0]), self.y_range, self.output)

    @classmethod
    def from_rating_model(cls, fitted: RatingModel) -> BiasedMF:
        """The module holding ``fitted``'s arrays (to save them with the state_dict layout checkpoints use)."""
        model = cls(fitted.n_users, fitted.n_items, fitted.dim, fitted.y_range, fitted.output)
        with torch.no_grad():
            model.user_embeddings.weight.copy_(torch.as_tensor(fitted.user_factors))
            model.item_embeddings.weight.copy_(torch.as_tensor(fitted.item_factors))
            model.user_biases.weight.copy_(torch.as_tensor(fitted.user_bias)[:, None])
            model.item_biases.weight.copy_(torch.as_tensor(fitted.item_bias)[:, None])
            model.global_bias.fill_(fitted.global_bias)
        return model.eval()


def count_parameters(n_users: int, n_items: int, embedding_dim: int) -> int:
    """Trainable numbers in a BiasedMF of this size."""
    return (n_users + n_items) * (embedding_dim + 1) + 1
