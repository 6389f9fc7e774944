"""Shared fixtures: small seeded datasets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

# cfcore.kernels: numba loads with every core before any AppTest runs app.py (which would otherwise lower
# NUMBA_NUM_THREADS for this process and the servers and CLIs the tests start)
import cfcore.kernels  # noqa: F401
from cfcore.ids import IdMap
from cfcore.ratings import Ratings


@pytest.fixture(scope="session")
def movielens():
    from cfcore.data.load import load_dataset

    return load_dataset("builtin:movielens")


@pytest.fixture(scope="session")
def small_synthetic():
    """400 users x 300 items, 30,000 ratings of a rank-4 model with noise sigma 0.3."""
    from cfcore.synthetic import SyntheticSpec, generate

    return generate(SyntheticSpec(n_ratings=30_000, n_users=400, n_items=300, rank=4, noise=0.3, seed=7))


@pytest.fixture(scope="module")
def saved_model(small_synthetic):
    """A small fitted model (dim 8, 2 epochs) on ``small_synthetic``; one per test module, since tests may
    change its metrics."""
    from cfcore.config import TrainConfig
    from cfcore.split import split
    from cfcore.train import TrainingRun

    parts = split(small_synthetic.dataset.ratings, "random", 0.1, seed=0)
    run = TrainingRun(parts.train, parts.val, TrainConfig(embedding_dim=8, epochs=2))
    list(run)
    return run.finish(small_synthetic.dataset.catalog, "synthetic")


@pytest.fixture
def tiny_ratings() -> Ratings:
    """6 ratings over 3 users x 3 items, with timestamps."""
    users = IdMap([10, 20, 30], "user")
    items = IdMap(["a", "b", "c"], "item")
    return Ratings(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 2, 0, 2]),
                   np.array([5, 3, 4, 2, 1, 4], dtype=np.float32), users, items,
                   np.array([1, 2, 3, 4, 5, 6], dtype=np.int64))
