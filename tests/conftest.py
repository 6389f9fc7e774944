"""Shared fixtures: small seeded datasets with known answers, and the headless Chromium of the browser tests."""

from __future__ import annotations

from pathlib import Path

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


def dataset_of(ratings, name: str = "planted"):
    """A Dataset around bare ratings (no metadata: each item's id is its title)."""
    from cfcore.data.dataset import Dataset, LoadReport, default_catalog

    report = LoadReport(name, "test", None, True, {}, [], len(ratings), {}, 0, ratings.scale)
    return Dataset(name, ratings, default_catalog(ratings.items), report)


def fit(dataset, config, split=None, **experiment):
    """Train ``config`` on ``dataset`` (or bare ratings) as every surface does (``cfcore.fit``: one
    ``Experiment``); the fitted model, with its record."""
    from cfcore.experiment import fit as fit_model
    from cfcore.ratings import Ratings
    from cfcore.split import SplitSettings

    if isinstance(dataset, Ratings):
        dataset = dataset_of(dataset)
    return fit_model(dataset, config, split=split or SplitSettings("random", 0.1, 0), **experiment)


def legacy_record(config: dict | None = None, dataset: str = "", history: list[dict] | None = None, **metrics):
    """A run record from the loose fields runs used to keep (the shortest way to state one in a test)."""
    from cfcore.records import RunRecord

    return RunRecord.from_legacy(config or {}, {"best_epoch": 1, "val_rmse": float("nan"), **metrics}, history or [],
                                 dataset=dataset)


@pytest.fixture(scope="module")
def saved_model(small_synthetic):
    """A small fitted model (dim 8, 2 epochs) on ``small_synthetic``; one per test module, since tests may
    replace its record."""
    from cfcore.config import TrainConfig

    return fit(small_synthetic.dataset, TrainConfig(embedding_dim=8, epochs=2))


@pytest.fixture
def tiny_ratings() -> Ratings:
    """6 ratings over 3 users x 3 items, with timestamps."""
    users = IdMap([10, 20, 30], "user")
    items = IdMap(["a", "b", "c"], "item")
    return Ratings(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 2, 0, 2]),
                   np.array([5, 3, 4, 2, 1, 4], dtype=np.float32), users, items,
                   np.array([1, 2, 3, 4, 5, 6], dtype=np.int64))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, with every host but the app's unresolvable (browser_support)."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, LAUNCH_ARGS, ROOT

    # a missing Chromium must fail here, not skip: CI would otherwise pass without browser tests
    assert Path(CHROMIUM).exists(), "chromium is not installed; scripts/test.sh installs it"
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()
