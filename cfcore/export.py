"""Embeddings and projections as text files: CSV for spreadsheets, TSV pairs for TensorBoard's Projector."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def projector_tsv(vectors: np.ndarray, metadata: pd.DataFrame) -> tuple[bytes, bytes]:
    """(vectors.tsv, metadata.tsv) as the Embedding Projector reads them.

    vectors.tsv has one row of tab-separated numbers per point and no header; metadata.tsv has a
    header row when it holds more than one column. Tabs and newlines inside labels would break
    the format, so they become spaces.
    """
    if len(vectors) != len(metadata):
        raise ValueError(f"{len(vectors)} vectors but {len(metadata)} metadata rows")
    out = io.StringIO()
    np.savetxt(out, np.asarray(vectors, dtype=np.float64), delimiter="\t", fmt="%.6g")
    clean = metadata.astype(str).apply(lambda col: col.str.replace(r"[\t\r\n]+", " ", regex=True))
    meta = clean.to_csv(sep="\t", index=False, header=clean.shape[1] > 1)
    return out.getvalue().encode("utf-8"), meta.encode("utf-8")
