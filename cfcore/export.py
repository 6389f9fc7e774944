"""Embeddings and projections as text files: CSV for spreadsheets, TSV pairs for TensorBoard's Projector."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd

# columns that hold whole numbers but arrive as floats, because a missing year is NaN
WHOLE_NUMBER_COLUMNS = ("year", "n_ratings")


def whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its year and count columns as integers (a missing one stays missing), so a file says 1995,
    not 1995.0; a column with a fraction in it is left as it is."""
    cast = {name: frame[name].astype("Int64") for name in WHOLE_NUMBER_COLUMNS
            if name in frame and pd.api.types.is_float_dtype(frame[name]) and (frame[name].dropna() % 1 == 0).all()}
    return frame.assign(**cast) if cast else frame


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    return whole_numbers(frame).to_csv(index=False).encode("utf-8")


def selection_csv(selected: pd.DataFrame, coordinates: Sequence[str]) -> bytes:
    """The movies picked on the map as CSV: item_id, title, year, genres, ratings and their map ``coordinates``
    (e.g. pc1, pc2), in the order given; titles are written as they are (no escaping, no markup)."""
    columns = [c for c in ("item_id", "title", "year", "genres", "n_ratings") if c in selected] + list(coordinates)
    missing = [c for c in coordinates if c not in selected]
    if missing:
        raise ValueError(f"the selection has no coordinate column {missing[0]!r}; it has {list(selected.columns)}")
    return frame_to_csv(selected[columns])


def projector_tsv(vectors: np.ndarray, metadata: pd.DataFrame) -> tuple[bytes, bytes]:
    """(vectors.tsv, metadata.tsv) as the Embedding Projector reads them (see the two functions below)."""
    if len(vectors) != len(metadata):
        raise ValueError(f"{len(vectors)} vectors but {len(metadata)} metadata rows")
    return vectors_tsv(vectors), metadata_tsv(metadata)


def vectors_tsv(vectors: np.ndarray) -> bytes:
    """One row of tab-separated numbers per point, no header."""
    out = io.StringIO()
    np.savetxt(out, np.asarray(vectors, dtype=np.float64), delimiter="\t", fmt="%.6g")
    return out.getvalue().encode("utf-8")


def metadata_tsv(metadata: pd.DataFrame) -> bytes:
    """A header row when there is more than one column; tabs and newlines inside labels would break
    the format, so they become spaces."""
    metadata = whole_numbers(metadata)
    clean = metadata.astype(object).where(metadata.notna(), "").astype(str)  # a missing value: an empty field
    clean = clean.apply(lambda col: col.str.replace(r"[\t\r\n]+", " ", regex=True))
    return clean.to_csv(sep="\t", index=False, header=clean.shape[1] > 1).encode("utf-8")
