"""A ratings file's first rows as read, and whether its user, item and rating columns were found, are a guess, or
are missing: what a person needs to pick the columns themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cfcore.data.archive import is_zip, open_archive
from cfcore.data.columns import COLUMN_ALIASES, map_columns, norm
from cfcore.data.formats import read_table_head
from cfcore.errors import ColumnsNotFound

ROLES = ("user", "item", "rating", "timestamp")
PREVIEW_ROWS = 8
RATING_LIKE_DISTINCT = 20  # a rating column holds a few distinct values (stars, half stars, 1-10)
RATING_LIKE_LIMIT = 100.0  # and small ones: ids and timestamps grow past this


@dataclass(frozen=True)
class RawPreview:
    """The first rows of a ratings file with its own column names, and what column detection made of them."""

    rows: pd.DataFrame  # the file's first rows, every column, as read
    has_header: bool
    detected: dict[str, str]  # role -> column that was recognised (may lack roles when ``missing``)
    missing: list[str]  # roles with no recognisable column (detection failed when not empty)
    doubt: str  # why the detection is a guess worth checking ("" when it is not)

    @property
    def available(self) -> list[str]:
        return [str(c) for c in self.rows.columns]

    @property
    def failed(self) -> bool:
        return bool(self.missing)

    def guess(self) -> dict[str, str]:
        """A full mapping to start the person's choice from: what was recognised, the rest the unused columns in
        the file's order (user, item, rating); no timestamp unless one was recognised."""
        chosen = dict(self.detected)
        free = [c for c in self.available if c not in chosen.values()]
        for role in ("user", "item", "rating"):
            if role not in chosen and free:
                chosen[role] = free.pop(0)
        return chosen


def preview_ratings(source: str | Path | bytes, *, name: str, sep: str | None = None,
                    n_rows: int = PREVIEW_ROWS) -> RawPreview:
    """The first ``n_rows`` of a ratings file (a ZIP archive's ratings member) and its column detection.

    A file whose columns cannot be told apart is not an error here (``missing`` says which); a file that cannot
    be read at all (binary, empty, no separator) raises DataError as ``load_dataset`` would.
    """
    label = name
    if is_zip(source):
        files = open_archive(source, label)
        source, label = files.ratings, files.ratings_name
    rows, header = read_table_head(source, label=label, sep=sep, n_rows=n_rows)
    try:
        detected = {role: str(col) for role, col in map_columns(list(rows.columns), header, None, label).items()}
    except ColumnsNotFound as exc:
        return RawPreview(rows, header, exc.found, exc.missing, "")
    return RawPreview(rows, header, detected, [], detection_doubt(rows, header, detected))


def detection_doubt(rows: pd.DataFrame, header: bool, detected: dict[str, str]) -> str:
    """Why the detected rating column may be the wrong one: two columns could each be it ("" when not)."""
    if header:  # names decided: in doubt only when two columns are each named like a rating
        named = [str(c) for c in rows.columns if norm(c) in COLUMN_ALIASES["rating"]]
        candidates = named if len(named) > 1 else []
        why = "are both named like a rating"
    else:  # positions decided: in doubt when another column holds rating-like numbers too
        ids = {detected.get("user"), detected.get("item")}
        candidates = [str(c) for c in rows.columns if str(c) not in ids and rating_like(rows[c])]
        why = "both hold small numbers that could be ratings"
    if len(candidates) < 2:
        return ""
    listed = " and ".join(repr(c) for c in candidates)
    return f"{listed} {why}; {detected['rating']!r} was taken as the rating, check it"


def rating_like(column: pd.Series) -> bool:
    """Numbers with few distinct, small values: what stars look like and ids or timestamps do not."""
    values = pd.to_numeric(column, errors="coerce")
    if values.isna().any() or len(values) == 0:
        return False
    return values.nunique() <= RATING_LIKE_DISTINCT and float(values.abs().max()) <= RATING_LIKE_LIMIT
