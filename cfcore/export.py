"""Embeddings and projections as text files: CSV for spreadsheets, TSV pairs for TensorBoard's Projector."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


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
    clean = metadata.astype(str).apply(lambda col: col.str.replace(r"[\t\r\n]+", " ", regex=True))
    return clean.to_csv(sep="\t", index=False, header=clean.shape[1] > 1).encode("utf-8")
