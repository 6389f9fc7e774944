"""Reference predictors every run is compared with: the global mean and regularised biases only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfcore.metrics import mae, rmse
from cfcore.ratings import Ratings


@dataclass(frozen=True, eq=False)
class BiasModel:
    """rating ~ mean + user_bias + item_bias, fitted by alternating regularised least squares."""

    global_mean: float
    user_bias: np.ndarray  # (n_users,)
    item_bias: np.ndarray  # (n_items,)

    def predict(self, user_idx: np.ndarray, item_idx: np.ndarray, low: float, high: float) -> np.ndarray:
        return np.clip(self.global_mean + self.user_bias[user_idx] + self.item_bias[item_idx], low, high)


def fit_biases(train: Ratings, reg_user: float = 15.0, reg_item: float = 10.0, iterations: int = 10) -> BiasModel:
    """Surprise's BaselineOnly (ALS): shrink each bias toward 0 by ``reg`` pseudo-ratings."""
    mean = float(train.rating.mean())
    user_bias = np.zeros(train.n_users)
    item_bias = np.zeros(train.n_items)
    residual = train.rating.astype(np.float64) - mean
    n_user = np.bincount(train.user_idx, minlength=train.n_users)
    n_item = np.bincount(train.item_idx, minlength=train.n_items)
    for _ in range(iterations):
        item_bias = np.bincount(train.item_idx, residual - user_bias[train.user_idx], train.n_items) / (reg_item + n_item)
        user_bias = np.bincount(train.user_idx, residual - item_bias[train.item_idx], train.n_users) / (reg_user + n_user)
    return BiasModel(mean, user_bias, item_bias)


def baseline_scores(train: Ratings, test: Ratings) -> dict[str, float]:
    """RMSE and MAE of the global mean and of the bias-only model on ``test``."""
    low, high = train.scale.min, train.scale.max
    mean = float(train.rating.mean())
    biases = fit_biases(train)
    pred = biases.predict(test.user_idx, test.item_idx, low, high)
    return {
        "global_mean_rmse": rmse(np.full(len(test), mean), test.rating),
        "global_mean_mae": mae(np.full(len(test), mean), test.rating),
        "bias_rmse": rmse(pred, test.rating),
        "bias_mae": mae(pred, test.rating),
    }
