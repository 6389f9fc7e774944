"""Which column of a frame is the user, the item, the rating (and the timestamp): common spellings, 0-based
positions, or the caller's choice; and the item id / title / genres / year columns of item metadata."""

from __future__ import annotations

import re

import pandas as pd

from cfcore.errors import ColumnsNotFound, DataError

# Common spellings of each column, compared lower-cased with spaces, dashes and underscores removed.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "users", "uid", "customer", "customerid", "reviewer", "reviewerid"),
    "item": ("item", "itemid", "items", "iid", "movie", "movieid", "product", "productid", "asin", "book", "bookid", "isbn"),
    "rating": ("rating", "ratings", "score", "stars", "star", "value", "rate", "grade"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unixtime", "unixreviewtime"),
}


def norm(name: str) -> str:
    return re.sub(r"[\s_\-\.\"']", "", str(name)).lower()


def map_columns(available: list, header: bool, columns, label: str) -> dict[str, object]:
    """Role (user/item/rating/timestamp) -> column of the frame, from aliases, positions or the caller."""
    roles = ["user", "item", "rating", "timestamp"]
    if columns is not None:
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",") if c.strip()]
        if isinstance(columns, (list, tuple)):
            if len(columns) < 3:
                raise DataError(f"columns must name user, item and rating (and optionally timestamp); got {columns!r}")
            columns = dict(zip(roles, columns))
        mapping = {}
        for role, col in columns.items():
            if col is None or col == "":
                continue
            mapping[role] = _resolve_column(col, available, header, label, role)
        return mapping
    if len(available) < 3:
        raise DataError(
            f"{label} has only {len(available)} column{'s' if len(available) != 1 else ''} "
            f"({', '.join(map(str, available))}); a ratings file needs user, item and rating columns"
        )
    if not header:  # u.data / ratings.dat: user, item, rating[, timestamp] by position
        return dict(zip(roles, available[:4]))
    mapping = {}
    normalised = {norm(c): c for c in available}
    for role in roles:
        for alias in COLUMN_ALIASES[role]:
            if alias in normalised and normalised[alias] not in mapping.values():
                mapping[role] = normalised[alias]
                break
    missing = [r for r in ("user", "item", "rating") if r not in mapping]
    if missing:
        raise ColumnsNotFound(
            f"{label}: no {' or '.join(missing)} column among {', '.join(map(str, available))}; "
            f"name them with columns=user,item,rating (e.g. --columns {','.join(map(str, available[:3]))})",
            list(map(str, available)), {role: str(col) for role, col in mapping.items()}, missing,
        )
    return mapping


def _resolve_column(col, available: list, header: bool, label: str, role: str):
    if col in available:
        return col
    lowered = {norm(c): c for c in available}
    if norm(col) in lowered:
        return lowered[norm(col)]
    if str(col).isdigit() and int(col) < len(available):
        return available[int(col)]  # a 0-based position
    raise DataError(f"{label}: no column {col!r} for {role}; the file has {', '.join(map(str, available))}")



def item_columns(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """item_id, title, genres (and year when the file has one) from a metadata frame's own column names."""
    cols = {norm(c): c for c in frame.columns}
    id_col = next((cols[a] for a in COLUMN_ALIASES["item"] + ("id",) if a in cols), None)
    title_col = next((cols[a] for a in ("title", "name", "movietitle", "itemname") if a in cols), None)
    if id_col is None or title_col is None:
        raise DataError(
            f"{label}: item metadata needs an item id column and a title column; found {', '.join(map(str, frame.columns))}"
        )
    out = pd.DataFrame({"item_id": frame[id_col], "title": frame[title_col].astype(str)})
    genre_col = next((cols[a] for a in ("genres", "genre", "category", "categories") if a in cols), None)
    out["genres"] = frame[genre_col].fillna("").astype(str) if genre_col else ""
    year_col = next((cols[a] for a in ("year", "releaseyear") if a in cols), None)
    if year_col:
        out["year"] = pd.to_numeric(frame[year_col], errors="coerce")
    return out
