"""Cached access to datasets, so no page re-parses data on a rerun."""

from __future__ import annotations

import streamlit as st

from cfcore.data import BUILTIN_MOVIELENS, Dataset, load_dataset


@st.cache_resource(show_spinner="Loading the MovieLens sample...")
def builtin_dataset(source: str = BUILTIN_MOVIELENS) -> Dataset:
    """Built-in datasets are shared read-only by every session."""
    return load_dataset(source)
