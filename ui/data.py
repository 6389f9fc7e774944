"""Cached access to datasets, so no page reloads or re-parses data on a rerun."""

from __future__ import annotations

import streamlit as st

from cfcore.data.dataset import BUILTIN_MOVIELENS, Dataset, LoadReport
from cfcore.data.load import load_dataset, load_test_file
from cfcore.data.preview import RawPreview, preview_ratings
from cfcore.synthetic import SyntheticSpec, generate


@st.cache_resource(show_spinner="Loading the MovieLens sample...")
def builtin_dataset(source: str = BUILTIN_MOVIELENS) -> Dataset:
    """Built-in datasets are shared read-only by every session."""
    return load_dataset(source)


@st.cache_resource(max_entries=4, show_spinner="Reading the file...")
def uploaded_dataset(file_key: str, _data: bytes, name: str, sep: str | None, columns: tuple | None,
                     items_key: str | None, _items: bytes | None, items_name: str | None) -> Dataset:
    """An uploaded file parsed once per (upload, options); ``file_key`` stands in for the bytes' hash."""
    return load_dataset(_data, name=name, sep=sep, columns=list(columns) if columns else None,
                        items=_items, items_name=items_name)


@st.cache_resource(max_entries=4, show_spinner="Generating synthetic ratings...")
def synthetic_dataset(n_ratings: int, noise: float, seed: int) -> Dataset:
    return generate(SyntheticSpec(n_ratings=n_ratings, noise=noise, seed=seed)).dataset


@st.cache_resource(max_entries=4, show_spinner=False)
def uploaded_preview(file_key: str, _data: bytes, name: str, sep: str | None) -> RawPreview:
    """An upload's first rows and column detection, once per (upload, separator)."""
    return preview_ratings(_data, name=name, sep=sep)


@st.cache_resource(max_entries=4, show_spinner="Reading the test file...")
def uploaded_test_file(file_key: str, _data: bytes, name: str, like_key: str, _like: LoadReport) -> Dataset:
    """A test file read like the dataset whose report is ``_like`` (``like_key``: that dataset's content hash)."""
    return load_test_file(_data, name=name, like=_like)
