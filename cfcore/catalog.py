"""The catalogue a model was trained on: a row per item index with title, year, genres and rating counts; search and filters.

Titles are user data: they are returned as text, never interpreted. ``frame`` is indexed by item index
(0..I-1) with the columns ``COLUMNS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cfcore.data.dataset import default_catalog
from cfcore.ids import IdMap

COLUMNS = ["item_id", "title", "year", "genres", "n_ratings", "mean_rating"]


class Catalog:
    """Item metadata and training rating counts, one row per item index."""

    def __init__(self, frame: pd.DataFrame) -> None:
        missing = [c for c in COLUMNS if c not in frame]
        if missing:
            raise ValueError(f"a catalogue needs the columns {', '.join(missing)}")
        self.frame = frame.reset_index(drop=True)[COLUMNS]

    @classmethod
    def build(cls, metadata: pd.DataFrame | None, items: IdMap, seen_items: np.ndarray,
              seen_ratings: np.ndarray) -> Catalog:
        """From item metadata (item_id, title, year, genres; any order, may miss items) and the training
        ratings (item index and rating of each), for the items of ``items``."""
        frame = metadata.reset_index(drop=True).copy() if metadata is not None and len(metadata) == len(items) \
            else _extend(metadata, items)
        counts = np.bincount(seen_items, minlength=len(items))
        sums = np.bincount(seen_items, weights=seen_ratings, minlength=len(items))
        frame["n_ratings"] = counts
        frame["mean_rating"] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return cls(frame)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"Catalog({len(self)} items)"

    @property
    def titled(self) -> bool:
        """Whether any item has a title other than its raw id (metadata was given)."""
        return not (self.frame["title"].astype(str).to_numpy() == self.frame["item_id"].astype(str).to_numpy()).all()

    def counts(self) -> np.ndarray:
        """(I,) training ratings per item."""
        return self.frame["n_ratings"].to_numpy()

    def rows(self, item_idx: np.ndarray) -> pd.DataFrame:
        """Catalogue rows of ``item_idx``, in that order, renumbered from 0."""
        return self.frame.iloc[np.asarray(item_idx, np.int64)].reset_index(drop=True)

    def labels(self) -> np.ndarray:
        """"Title (year)" for every item index (an object array, for pickers)."""
        year = self.frame["year"].map(lambda y: "" if pd.isna(y) else f" ({y:.0f})")
        return (self.frame["title"].astype(str) + year).to_numpy(dtype=object)

    def search(self, text: str, limit: int = 20) -> pd.DataFrame:
        """Rows whose title contains ``text`` (case-insensitive, literal), most rated first; indexed by item index."""
        titles = self.frame["title"].astype(str)
        hits = self.frame[titles.str.contains(text, case=False, regex=False)]
        return hits.sort_values("n_ratings", ascending=False).head(limit)

    def filter(self, genre: str | None = None, min_ratings: int = 0,
               years: tuple[float, float] | None = None) -> np.ndarray:
        """(I,) bool mask of items passing the filters (unknown years pass a year filter)."""
        mask = self.frame["n_ratings"].to_numpy() >= min_ratings
        if genre:
            mask &= ("|" + self.frame["genres"].astype(str) + "|").str.contains(f"|{genre}|", regex=False).to_numpy()
        if years is not None:
            year = self.frame["year"].to_numpy(np.float64)
            mask &= np.isnan(year) | ((year >= years[0]) & (year <= years[1]))
        return mask

    def genres(self) -> list[str]:
        """Every genre in the catalogue, sorted."""
        found = self.frame["genres"].astype(str).str.split("|").explode()
        return sorted(g for g in found.unique() if g)

    def most_rated(self, limit: int = 20_000, min_ratings: int = 1) -> np.ndarray:
        """Item indices with at least ``min_ratings`` training ratings, most rated first (pickers stay fast)."""
        counts = self.counts()
        order = np.argsort(-counts, kind="stable")
        return order[counts[order] >= min_ratings][:limit]


def _extend(metadata: pd.DataFrame | None, items: IdMap) -> pd.DataFrame:
    """A row per item index; items missing from ``metadata`` get their id as title."""
    base = default_catalog(items)
    if metadata is None:
        return base
    meta = metadata.drop_duplicates("item_id").set_index("item_id")
    hit = items.index.isin(meta.index)
    for col in ("title", "year", "genres"):
        base.loc[hit, col] = meta[col].reindex(items.index[hit]).to_numpy()
    return base
