"""The fitted rating model in numpy: the seed's formula term by term, its output range, and fold-in of new users.

raw score = user vector . item vector + user bias + item bias + global bias; the stars are the raw
score limited to the rating range (clipped, as the seed does, or a scaled sigmoid). ``model.py`` is the
same formula in torch, used to train; this is what queries, evaluation and every ranking kind read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTPUTS = ("clip", "sigmoid")


def output_range(y_range: tuple[float, float], output: str) -> tuple[float, float]:
    """(low, high) of the output: the rating scale, widened by 5% each side for the sigmoid (so its ends
    stay reachable)."""
    low, high = float(y_range[0]), float(y_range[1])
    if output != "sigmoid":
        return low, high
    margin = 0.05 * (high - low) or 0.5
    return low - margin, high + margin


@dataclass(frozen=True, eq=False)
class RatingModel:
    """The learned arrays of a biased MF (indices, not raw ids) and how its raw score becomes stars."""

    user_factors: np.ndarray  # (U, D)
    item_factors: np.ndarray  # (I, D)
    user_bias: np.ndarray  # (U,)
    item_bias: np.ndarray  # (I,)
    global_bias: float
    y_range: tuple[float, float]  # the rating scale predictions are limited to
    output: str = "clip"  # "clip" | "sigmoid"

    @property
    def n_users(self) -> int:
        return len(self.user_factors)

    @property
    def n_items(self) -> int:
        return len(self.item_factors)

    @property
    def dim(self) -> int:
        return self.item_factors.shape[1]

    def apply_output(self, score: np.ndarray) -> np.ndarray:
        """Raw scores -> stars (float32), as ``BiasedMF.apply_output`` does in torch."""
        low, high = output_range(self.y_range, self.output)
        score = np.asarray(score, np.float32)
        if self.output == "sigmoid":
            return (low + (high - low) / (1.0 + np.exp(-score))).astype(np.float32)
        return np.clip(score, low, high).astype(np.float32)

    def score_rows(self, vec: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """(n, I) raw scores of every item for users given by their rows, trained or folded in: (n, D), (n,)."""
        return vec @ self.item_factors.T + self.item_bias + bias[:, None] + self.global_bias  # (n, I)

    def score_users(self, user_idx: np.ndarray) -> np.ndarray:
        """(n, I) raw scores of every item for trained users."""
        return self.score_rows(self.user_factors[user_idx], self.user_bias[user_idx])  # (n, I)

    def parts(self, user_idx: np.ndarray, item_idx: np.ndarray) -> dict[str, np.ndarray]:
        """The raw score of index pairs, term by term (they sum to it); index -1 is unknown, its terms 0."""
        known_u, known_i = user_idx >= 0, item_idx >= 0  # (n,) each
        u, i = np.where(known_u, user_idx, 0), np.where(known_i, item_idx, 0)
        return {"global mean": np.full(len(u), self.global_bias, np.float32),
                "user bias": self.user_bias[u] * known_u,
                "item bias": self.item_bias[i] * known_i,
                "taste match": np.einsum("nd,nd->n", self.user_factors[u], self.item_factors[i])
                * (known_u & known_i)}  # (n,) each

    def score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """(n,) raw scores of index pairs (-1: unknown, predicted from the known terms)."""
        return sum(self.parts(user_idx, item_idx).values())

    def predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """(n,) predicted stars of index pairs (-1: unknown)."""
        return self.apply_output(self.score_pairs(np.asarray(user_idx, np.int64), np.asarray(item_idx, np.int64)))

    def fold_in(self, item_idx: np.ndarray, rating: np.ndarray, reg: float = 1.0) -> tuple[np.ndarray, float]:
        """A new user's vector and bias: ridge regression against the fixed item rows.

        Minimises sum (r - global - item_bias - bias - vec . item_vec)^2 + reg * (|vec|^2 + bias^2).
        """
        x = np.hstack([self.item_factors[item_idx].astype(np.float64), np.ones((len(item_idx), 1))])  # (m, D+1)
        target = np.asarray(rating, np.float64) - self.global_bias - self.item_bias[item_idx]  # (m,)
        gram = x.T @ x + max(reg, 1e-9) * np.eye(x.shape[1])  # (D+1, D+1)
        solution = np.linalg.solve(gram, x.T @ target)  # (D+1,)
        return solution[:-1].astype(np.float32), float(solution[-1])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for a ranking kind that keeps its own copy)."""
        return {"user_factors": self.user_factors, "item_factors": self.item_factors, "user_bias": self.user_bias,
                "item_bias": self.item_bias, "global_bias": np.array([self.global_bias], np.float64),
                "y_range": np.array(self.y_range, np.float64),
                "sigmoid": np.array([self.output == "sigmoid"])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RatingModel:
        return cls(np.asarray(arrays["user_factors"], np.float32), np.asarray(arrays["item_factors"], np.float32),
                   np.asarray(arrays["user_bias"], np.float32), np.asarray(arrays["item_bias"], np.float32),
                   float(np.asarray(arrays["global_bias"]).ravel()[0]),
                   tuple(float(v) for v in np.asarray(arrays["y_range"]).ravel()[:2]),
                   "sigmoid" if bool(np.asarray(arrays["sigmoid"]).ravel()[0]) else "clip")
