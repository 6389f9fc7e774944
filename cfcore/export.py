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


BATCH_USERS = 4096  # users scored per chunk of batch recommendations: bounds memory to 4096 x items scores
FLOAT_FORMAT = "%.6g"  # a score's digits in a CSV


def top_k_header(rec) -> list[str]:
    """The columns of a batch of top-k lists: user_id, rank, item_id, score, and title when the catalogue has titles."""
    return ["user_id", "rank", "item_id", "score"] + (["title"] if rec.catalog.titled else [])


def top_k_chunks(rec, user_idx: np.ndarray, k: int):
    """Top-``k`` lists of ``user_idx`` (held-out and seen movies excluded), ``BATCH_USERS`` users per frame of
    ``top_k_header`` columns, one row per (user, rank); ranks past a user's remaining candidates are dropped."""
    for start in range(0, len(user_idx), BATCH_USERS):
        batch = user_idx[start:start + BATCH_USERS]
        top, scores = rec.top_k_scores(batch, k, exclude_heldout=True)  # (b, k), (b, k)
        yield batch_frame(rec, batch, top, scores)


def batch_frame(rec, batch: np.ndarray, top: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """One row per (user, rank); ranks past a user's remaining candidates (score -inf) are dropped."""
    keep = np.isfinite(scores).ravel()  # (b * k,)
    k = top.shape[1]
    frame = pd.DataFrame({"user_id": np.repeat(rec.users.to_id(batch), k)[keep],
                          "rank": np.tile(np.arange(1, k + 1), len(batch))[keep],
                          "item_id": rec.items.to_id(top.ravel()[keep]),
                          "score": scores.ravel()[keep].astype(np.float64)})
    if rec.catalog.titled:
        frame["title"] = rec.catalog.frame["title"].to_numpy()[top.ravel()[keep]]
    return frame


def all_users_top_k_csv(rec, k: int) -> bytes:
    """Every user's top-``k`` list as CSV bytes (the CLI's ``recommend --all-users`` file)."""
    chunks = list(top_k_chunks(rec, np.arange(rec.n_users), k))
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=top_k_header(rec))
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT).encode("utf-8")
