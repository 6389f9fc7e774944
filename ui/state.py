"""Per-session state: every session-state key spelled once, with typed getters and setters."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cfcore.data import Dataset
from cfcore.errors import CFError
from cfcore.ratings import Ratings
from cfcore.recommender import Recommender
from cfcore.split import Split, split
from ui.data import builtin_dataset

DATASET = "cf_dataset"
SPLIT_SETTINGS = "cf_split_settings"
SPLIT_CACHE = "cf_split_cache"
ACTIVE_MODEL = "cf_active_model"
JOB = "cf_job"
JOB_ABSORBED = "cf_job_absorbed"
SWEEP = "cf_sweep"
RUNS_DIR = "cf_runs_dir"
FLASH = "cf_flash"

DEFAULT_RUNS_DIR = os.environ.get("CF_STUDIO_RUNS_DIR", "runs")


@dataclass(frozen=True)
class SplitSettings:
    method: str = "random"
    fraction: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class ActiveModel:
    """The model the Recommend and Embeddings pages use, where it came from, and its validation ratings."""

    recommender: Recommender
    run_id: str | None
    label: str
    val: Ratings | None = None  # held-out ratings of the split it was trained on, when known


def dataset() -> Dataset:
    """The active dataset; the built-in MovieLens sample until the user picks another."""
    if DATASET not in st.session_state:
        st.session_state[DATASET] = builtin_dataset()
    return st.session_state[DATASET]


def set_dataset(new: Dataset) -> None:
    st.session_state[DATASET] = new
    st.session_state.pop(SPLIT_CACHE, None)


def split_settings() -> SplitSettings:
    return st.session_state.get(SPLIT_SETTINGS, SplitSettings())


def set_split_settings(settings: SplitSettings) -> None:
    st.session_state[SPLIT_SETTINGS] = settings


def current_split() -> Split:
    """The active dataset split with the current settings, computed once per (dataset, settings)."""
    data, settings = dataset(), split_settings()
    key = (id(data), settings)
    cached = st.session_state.get(SPLIT_CACHE)
    if cached is None or cached[0] != key:
        parts = split(data.ratings, settings.method, settings.fraction, settings.seed)
        st.session_state[SPLIT_CACHE] = (key, parts)
        return parts
    return cached[1]


def active_model() -> ActiveModel | None:
    return st.session_state.get(ACTIVE_MODEL)


def set_active_model(rec: Recommender, run_id: str | None, label: str, val: Ratings | None = None) -> None:
    st.session_state[ACTIVE_MODEL] = ActiveModel(rec, run_id, label, val if val is not None else _validation_for(rec))


def _validation_for(rec: Recommender) -> Ratings | None:
    """Rebuild a saved model's validation ratings when the active dataset is the one it was trained on."""
    settings = rec.metrics.get("split")
    data = dataset()
    if not isinstance(settings, dict) or data.name != rec.dataset_name:
        return None
    if data.ratings.users != rec.users or data.ratings.items != rec.items:
        return None
    try:
        return split(data.ratings, settings["method"], float(settings["fraction"]), int(settings["seed"])).val
    except (CFError, KeyError, TypeError, ValueError):
        return None


def runs_dir() -> Path:
    return Path(st.session_state.get(RUNS_DIR, DEFAULT_RUNS_DIR))


def flash(message: str, kind: str = "success") -> None:
    """A message to show once on the next run (e.g. after a button caused a rerun)."""
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    item = st.session_state.pop(FLASH, None)
    if item:
        kind, message = item
        getattr(st, kind)(message)


MEMO = "cf_memo"


def memo(key: tuple, compute):
    """Per-session memo for results derived from the active model (bounded; newest kept)."""
    store: dict = st.session_state.setdefault(MEMO, {})
    if key not in store:
        if len(store) >= 32:
            store.pop(next(iter(store)))
        store[key] = compute()
    return store[key]
