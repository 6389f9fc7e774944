"""CF Studio's engine: explicit-rating collaborative filtering with biased matrix factorisation.

Never imports Streamlit and never prints; the CLI (``python -m cfcore``) and the dashboard sit on top.

    from cfcore import fit, load_dataset
    model = fit(load_dataset("builtin:movielens"), epochs=10)
    model.recommend(user_id=1, k=10)
"""

from __future__ import annotations

import importlib

__version__ = "0.13.0"

# the library's front door, imported on first use: `import cfcore.data.raw` alone should not load torch
# (``fit``, not ``train``: cfcore.train is the training loop's module, which would shadow a function of that name)
_PUBLIC = {"load_dataset": "cfcore.data.load", "fit": "cfcore.experiment", "TrainConfig": "cfcore.config",
           "Experiment": "cfcore.experiment", "load_model": "cfcore.checkpoint"}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name == "load_model":  # a checkpoint file -> the fitted model (``checkpoint.load``)
        return importlib.import_module(_PUBLIC[name]).load
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'cfcore' has no attribute {name!r}")
