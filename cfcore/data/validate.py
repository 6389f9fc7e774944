"""A frame of user, item, rating[, timestamp] to Ratings: numbers checked, ids mapped, repeats and empty rows
dropped with the reason and the first file line, so a message can say what to fix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cfcore.data.formats import FrameInfo
from cfcore.errors import DataError
from cfcore.ids import IdMap
from cfcore.ratings import Ratings, RatingScale


def validate(frame: pd.DataFrame, info: FrameInfo, label: str,
             scale: tuple[float, float] | None) -> tuple[Ratings, dict[str, int], int, list[str]]:
    """(ratings, rows dropped by reason, repeated pairs dropped, warnings); an error for what cannot be used."""
    offset = info.line_offset  # file line of frame row 0
    col = info.columns
    dropped: dict[str, int] = {}
    warnings: list[str] = []
    keep = np.ones(len(frame), dtype=bool)

    rating = _numeric_column(frame["rating"], f"rating column {col['rating']!r}", label, offset)
    missing = np.isnan(rating)
    if missing.any():
        first = int(np.flatnonzero(missing)[0]) + offset
        dropped[f"no rating (first on line {first})"] = int(missing.sum())
        keep &= ~missing
    infinite = np.isinf(rating)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise DataError(f"{label}: rating column {col['rating']!r} holds an infinite value {str(frame['rating'].iloc[row])!r} "
                        f"on line {row + offset}; ratings must be finite numbers")
    if scale is not None:
        lo, hi = scale
        outside = keep & ((rating < lo) | (rating > hi))
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise DataError(
                f"{label}: rating {rating[row]:g} on line {row + offset} is outside the declared scale "
                f"{lo:g} to {hi:g} ({int(outside.sum())} such rows); fix the file or the scale"
            )
    for role in ("user", "item"):
        ids = frame[role]
        absent = ids.isna().to_numpy(copy=True)
        if not pd.api.types.is_numeric_dtype(ids.dtype):  # text ids: blank strings are missing too
            absent |= (ids.astype(str).str.strip() == "").to_numpy()
        if (absent & keep).any():
            first = int(np.flatnonzero(absent & keep)[0]) + offset
            dropped[f"no {role} id (first on line {first})"] = int((absent & keep).sum())
            keep &= ~absent
    timestamp = None
    if "timestamp" in frame:
        timestamp = _timestamps(frame["timestamp"], label, col["timestamp"], warnings)
        if timestamp is not None:
            bad_ts = keep & (timestamp == np.iinfo(np.int64).min)
            if bad_ts.any():
                warnings.append(f"{int(bad_ts.sum())} rows have no readable timestamp; temporal splits treat them as oldest")
    if not keep.any():
        raise DataError(f"{label}: no usable rows: every row lacks a rating or an id")
    if not keep.all():  # copying 25M rows costs seconds; most files drop nothing
        frame = frame.loc[keep]
        rating = rating[keep]
        if timestamp is not None:
            timestamp = timestamp[keep]

    users, user_idx = IdMap.from_values(_ids(frame["user"]), "user")
    items, item_idx = IdMap.from_values(_ids(frame["item"]), "item")
    pair = user_idx * len(items) + item_idx  # (n,) one int64 per (user, item)
    dup = _repeated_pairs(pair)
    n_dup = int(dup.sum())
    if n_dup:
        user_idx, item_idx, rating = user_idx[~dup], item_idx[~dup], rating[~dup]
        timestamp = None if timestamp is None else timestamp[~dup]
    ratings = Ratings(user_idx, item_idx, rating.astype(np.float32), users, items, timestamp,
                      RatingScale(float(scale[0]), float(scale[1]), RatingScale.detect(rating).step) if scale else None)
    if ratings.scale.min < 0 and scale is None:
        warnings.append(f"ratings include negative values (lowest {ratings.scale.min:g}); if the scale should "
                        "start at 0 or 1, fix the file or declare the scale")
    if ratings.scale.min == ratings.scale.max:
        warnings.append(f"every rating is {ratings.scale.min:g}: there is nothing to learn beyond the mean")
    if len(users) == 1:
        warnings.append("only one user: recommendations for others cannot be learned")
    if len(items) == 1:
        warnings.append("only one item: there is nothing to rank")
    return ratings, dropped, n_dup, warnings


def _repeated_pairs(pair: np.ndarray) -> np.ndarray:
    """(n,) bool: rows whose (user, item) appears again later (the last one is kept)."""
    if len(pair) > 1 and np.all(pair[1:] >= pair[:-1]):  # sorted files (MovieLens): repeats are neighbours
        dup = np.zeros(len(pair), dtype=bool)
        dup[:-1] = pair[:-1] == pair[1:]
        return dup
    return pd.Series(pair).duplicated(keep="last").to_numpy()


def _numeric_column(series: pd.Series, what: str, label: str, offset: int) -> np.ndarray:
    """Float64 values; text that is not a number is an error naming its line and value."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    text = series.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    blank = text.isna().to_numpy(dtype=bool, na_value=True) | (text.fillna("") == "").to_numpy() | \
        text.str.lower().isin(["nan", "na", "n/a", "null", "none"]).to_numpy(dtype=bool, na_value=False)
    bad = np.isnan(values) & ~blank
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{label}: {what} holds text: {str(series.iloc[row])!r} on line {row + offset} "
            f"({int(bad.sum())} such rows); ratings must be numbers (is the column mapping right?)"
        )
    return values


def _ids(series: pd.Series) -> np.ndarray:
    """Integer ids stay integers; anything else becomes stripped strings."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(np.int64)
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(np.float64)
        if np.all(values == np.round(values)):
            if np.abs(values).max() < 2**62:
                return values.astype(np.int64)
            # whole numbers past int64 (the parser read the column as floats): text ids written as whole
            # numbers, not "1e+20" and "1.0", and never wrapped around into other users' ids
            return np.array([np.format_float_positional(v, trim="-") for v in values], dtype=object)
    text = series.astype(str).str.strip()
    as_int = pd.to_numeric(text, errors="coerce")
    if (as_int.notna().all() and (as_int == as_int.round()).all() and (as_int.abs() < 2**62).all()
            and not text.str.startswith("0").any()):  # ids past int64 stay text rather than wrap around
        return as_int.to_numpy(np.int64)
    return text.to_numpy(dtype=object)


def _timestamps(series: pd.Series, label: str, name: str, warnings: list[str]) -> np.ndarray | None:
    """Seconds since 1970 as int64 (missing -> int64 min), from numbers or date strings."""
    missing_value = np.iinfo(np.int64).min
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(np.float64, na_value=np.nan)
        usable = np.isfinite(values) & (np.abs(values) < 2**62)  # beyond int64 a cast gives garbage: missing
        out = np.where(usable, values, 0).astype(np.int64)
        out[~usable] = missing_value
        return out
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    if parsed.notna().mean() < 0.5:
        warnings.append(f"timestamp column {name!r} could not be read as dates; it was ignored")
        return None
    seconds = (parsed - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.fillna(missing_value).to_numpy(np.int64)
