"""Item metadata joined onto a Dataset: titles, years and genres from movies.csv, u.item, movies.dat or similar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cfcore.data.dataset import Dataset, LoadReport
from cfcore.data.formats import read_items_frame
from cfcore.errors import DataError

_NOTE = "item metadata "  # how with_items' line in the load report starts


def items_note(report: LoadReport) -> str | None:
    """The load report's line on joined item metadata ("item metadata movies.csv: titles for 20 of 20
    items"), or None when no metadata was joined."""
    return next((line for line in report.warnings if line.startswith(_NOTE)), None)


def with_items(dataset: Dataset, source: str | Path | bytes, *, name: str | None = None) -> Dataset:
    """The dataset with titles, years and genres read from a metadata file."""
    label = name or (str(source) if not isinstance(source, bytes) else "item metadata upload")
    meta = read_items(source, label)
    items = dataset.ratings.items
    meta = meta.drop_duplicates("item_id", keep="last")
    ids = meta["item_id"]
    if items.is_integer and not pd.api.types.is_integer_dtype(ids.dtype):
        ids = pd.to_numeric(ids, errors="coerce")
    elif not items.is_integer:
        ids = ids.astype(str)
    meta = meta.assign(item_id=ids).dropna(subset=["item_id"])
    if items.is_integer:
        meta["item_id"] = meta["item_id"].astype(np.int64)
    meta = meta.set_index("item_id")
    catalog = dataset.catalog.copy()
    hit = items.index.isin(meta.index)
    if not hit.any():
        raise DataError(
            f"{label}: none of its {len(meta):,} item ids match the ratings' item ids "
            f"(e.g. ratings use {items.index[0]!r}, metadata uses {meta.index[0]!r}); is it the right file?"
        )
    sub = meta.reindex(items.index[hit])
    catalog.loc[hit, "title"] = sub["title"].fillna("").astype(str).to_numpy(object)
    catalog.loc[hit, "year"] = sub["year"].to_numpy(np.float64)
    catalog.loc[hit, "genres"] = sub["genres"].fillna("").astype(str).to_numpy(object)
    empty = catalog["title"].astype(str).str.strip() == ""
    catalog.loc[empty, "title"] = catalog.loc[empty, "item_id"].astype(str)
    report = dataset.report
    note = f"{_NOTE}{Path(label).name}: titles for {int(hit.sum()):,} of {len(items):,} items"
    if (~meta.index.isin(items.index)).sum():
        note += f" ({int((~meta.index.isin(items.index)).sum()):,} metadata rows match no rated item)"
    report = LoadReport(**{**report.__dict__, "warnings": [*report.warnings, note]})
    return Dataset(dataset.name, dataset.ratings, catalog, report, dataset.credit, dataset.noise_floor)



def read_items(source: str | Path | bytes, label: str) -> pd.DataFrame:
    """Item metadata as item_id, title, year, genres (any format ``formats.READERS`` reads)."""
    return with_years(read_items_frame(source, label))


def with_years(frame: pd.DataFrame) -> pd.DataFrame:
    """Split "Toy Story (1995)" into title "Toy Story" and year 1995 (a year column of the file wins)."""
    title = frame["title"].fillna("").astype(str).str.strip()
    match = title.str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
    has_year = match["year"].notna()
    from_title = pd.to_numeric(match["year"], errors="coerce").to_numpy(np.float64)
    frame = frame.copy()
    frame["year"] = frame["year"].to_numpy(np.float64) if "year" in frame else from_title
    frame["title"] = np.where(has_year, match["title"], title)
    frame["genres"] = frame["genres"].fillna("").astype(str).replace("(no genres listed)", "")
    return frame
