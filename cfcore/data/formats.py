"""The readers: bytes to a frame, for ratings and item metadata alike, registered in one table.

``READERS`` lists every format with how it is recognised from a file's first bytes (never its name).
A new format is one ``Reader`` there: a ``matches`` test on the head, and a ratings reader and/or an
item-metadata reader. Text (CSV, TSV, semicolon, pipe, whitespace, ``::``-separated ``.dat``, with or
without a header, MovieLens ``u.item``) is the last entry and takes whatever the others did not,
after ``raw.sniff_binary`` has refused images, documents and other binary files. ZIP archives hold
files rather than a table: ``load.py`` opens them first (``archive.py``) and reads their members here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cfcore.data import raw
from cfcore.data.columns import COLUMN_ALIASES, item_columns, map_columns, norm
from cfcore.errors import DataError

SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", "::": "double colon"}
MOVIELENS_GENRES_UITEM = (
    "unknown|Action|Adventure|Animation|Children|Comedy|Crime|Documentary|Drama|Fantasy|"
    "Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western"
).split("|")


Source = str | Path | bytes


@dataclass(frozen=True)
class FrameInfo:
    """What reading a ratings source found, for the load report and for messages naming file lines."""

    format: str  # e.g. "csv (comma-separated, header)", "parquet"
    sep: str | None  # the field separator (None for Parquet)
    header: bool
    available: list[str]  # every column of the file, for the column picker
    columns: dict[str, str]  # role (user/item/rating/timestamp) -> the file's column
    line_offset: int  # the file line of the frame's first row (1-based)


@dataclass(frozen=True)
class Reader:
    """One format: how to recognise it from the head, and how to read ratings and item metadata from it."""

    name: str
    matches: Callable[[bytes], bool]  # the first (decompressed) bytes -> is it this format?
    ratings: Callable[..., tuple[pd.DataFrame, FrameInfo]]  # (source, label, sep, columns, head)
    items: Callable[..., pd.DataFrame]  # (source, label, head) -> item_id, title, genres[, year]
    table: Callable[..., tuple[pd.DataFrame, bool]]  # (source, label, sep, head, n_rows) -> first rows as read, header?


def reader_for(head: bytes, label: str) -> Reader:
    """The first registered reader that recognises ``head``; binary files nobody reads are refused."""
    for reader in READERS:
        if reader.matches(head):
            return reader
    raise AssertionError("the text reader matches everything")  # pragma: no cover


def read_ratings_frame(source: Source, *, label: str, sep: str | None = None,
                       columns=None) -> tuple[pd.DataFrame, FrameInfo]:
    """Parse a ratings source into a DataFrame with columns user, item, rating[, timestamp]."""
    head = raw.read_bytes(source, label, limit=raw.HEAD_BYTES)
    if not head.strip():
        raise DataError(f"{label} is empty; it needs rows of user, item, rating")
    return reader_for(head, label).ratings(source, label, sep, columns, head)


def read_table_head(source: Source, *, label: str, sep: str | None = None,
                    n_rows: int = 8) -> tuple[pd.DataFrame, bool]:
    """The first ``n_rows`` of a ratings source with every column as the file names it (no mapping), and
    whether it has a header: what a person looks at to say which column is which."""
    head = raw.read_bytes(source, label, limit=raw.HEAD_BYTES)
    if not head.strip():
        raise DataError(f"{label} is empty; it needs rows of user, item, rating")
    return reader_for(head, label).table(source, label, sep, head, n_rows)


def read_items_frame(source: Source, label: str) -> pd.DataFrame:
    """Item metadata as item_id, title, genres[, year] (titles still carry their "(1995)")."""
    head = raw.read_bytes(source, label, limit=raw.HEAD_BYTES)
    if not head.strip():
        raise DataError(f"{label} is empty; item metadata needs rows of item id and title")
    return reader_for(head, label).items(source, label, head)


# -- Parquet ------------------------------------------------------------------------------------


def _is_parquet(head: bytes) -> bool:
    return head[:4] == b"PAR1"


def _parquet_ratings(source, label: str, sep: str | None, columns, head: bytes) -> tuple[pd.DataFrame, FrameInfo]:
    """Only the mapped columns are read (a wide file's other columns never leave the disk), and a
    path is read by pyarrow itself rather than into one bytes object first."""
    import pyarrow.parquet as pq

    if isinstance(source, bytes):
        handle = io.BytesIO(source)
    elif raw.looks_gzip(source):
        handle = io.BytesIO(raw.read_bytes(source, label))
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
    return out, FrameInfo("parquet", None, True, available, {role: str(col) for role, col in mapping.items()}, 1)



def _parquet_table(source, label: str, sep: str | None, head: bytes, n_rows: int) -> tuple[pd.DataFrame, bool]:
    import pyarrow.parquet as pq

    handle = io.BytesIO(source if isinstance(source, bytes) else raw.read_bytes(source, label))
    try:
        batch = next(pq.ParquetFile(handle).iter_batches(batch_size=n_rows), None)
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DataError(f"{label}: damaged Parquet file ({str(exc)[:200]})") from None
    return (batch.to_pandas() if batch is not None else pd.DataFrame()), True


def _parquet_items(source: Source, label: str, head: bytes) -> pd.DataFrame:
    return item_columns(pd.read_parquet(io.BytesIO(raw.read_bytes(source, label))), label)


# -- text ---------------------------------------------------------------------------------------


def _is_text(head: bytes) -> bool:
    return True  # the last entry: whatever no other reader recognised, once it is not binary


def _text_ratings(source: Source, label: str, sep: str | None, columns, head: bytes) -> tuple[pd.DataFrame, FrameInfo]:
    _, sep, header = _text_layout(label, sep, head)
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
    if raw.looks_gzip(source):
        fmt += ", gzip"
    info = FrameInfo(fmt, sep, header, list(map(str, frame.columns)),
                     {role: str(col) for role, col in mapping.items()}, 2 if header else 1)
    return out, info


def _text_layout(label: str, sep: str | None, head: bytes) -> tuple[list[str], str, bool]:
    """The head's non-blank lines, the separator (given or detected) and whether the first line is a header."""
    raw.sniff_binary(head, label)
    text = raw.decode_text(head)
    lines = [ln for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()]
    if len(text) >= raw.HEAD_BYTES - 4 and len(lines) > 1:
        lines = lines[:-1]  # the head read may have cut the last line
    sep = normalise_sep(sep) if sep else detect_separator(lines, label)
    return lines, sep, detect_header(lines, sep)


def _text_table(source, label: str, sep: str | None, head: bytes, n_rows: int) -> tuple[pd.DataFrame, bool]:
    """The first rows parsed from the head alone, named as the full read names them."""
    lines, sep, header = _text_layout(label, sep, head)
    some = "\n".join(lines[: n_rows + int(header)]).encode()
    frame = _read_text(some, label, sep, header, some)
    if header:
        frame.columns = [str(c).strip().lstrip("\ufeff").strip('"') for c in frame.columns]
    else:
        frame.columns = [f"column {i + 1}" for i in range(frame.shape[1])]
    return frame, header


def _text_items(source: Source, label: str, head: bytes) -> pd.DataFrame:
    """movies.dat (id::title::genres), u.item (id|title|date|video|url|19 genre flags), or a table with a header."""
    raw.sniff_binary(head, label)
    text = raw.decode_text(raw.read_bytes(source, label))
    first = text.split("\n", 1)[0]
    try:
        if "::" in first:
            return pd.read_csv(io.StringIO(text.replace("::", "\t")), sep="\t", header=None, quoting=3,
                               names=["item_id", "title", "genres"], dtype=str)
        if first.count("|") >= 5 and "," not in first.split("|")[0]:
            frame = pd.read_csv(io.StringIO(text), sep="|", header=None, dtype=str, quoting=3)
            flags = frame.iloc[:, 5:5 + len(MOVIELENS_GENRES_UITEM)].apply(pd.to_numeric, errors="coerce").fillna(0)
            names = MOVIELENS_GENRES_UITEM[: flags.shape[1]]
            genres = flags.apply(lambda row: "|".join(n for n, f in zip(names, row) if f and n != "unknown"), axis=1)
            return pd.DataFrame({"item_id": frame[0], "title": frame[1], "genres": genres})
        sep = detect_separator([ln for ln in text.splitlines()[:50] if ln.strip()], label) if "," not in first else ","
        frame = pd.read_csv(io.StringIO(text), sep=sep if sep != "whitespace" else r"\s+", dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{label}: cannot read item metadata ({str(exc).splitlines()[-1][:200]})") from None
    return item_columns(frame, label)


def _read_text(source, label: str, sep: str, header: bool, head: bytes) -> pd.DataFrame:
    """Parse the whole file. Plain files on disk go straight to pyarrow's multithreaded reader."""
    encoding = "utf-8" if raw.is_utf8(head) else "latin-1"
    direct = (not isinstance(source, bytes) and sep not in ("::", "whitespace") and head[:2] != b"\x1f\x8b")
    if direct:
        buffer_or_path = str(source)
    else:
        data = raw.read_bytes(source, label)
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


def detect_header(lines: list[str], sep: str) -> bool:
    """A header names known columns, or has text where the next line has numbers."""
    first = _fields(lines[0], sep)
    aliases = {a for names in COLUMN_ALIASES.values() for a in names}
    if any(norm(tok) in aliases for tok in first):
        return True
    if len(lines) < 2:
        return not any(_is_number(tok) for tok in first[2:3])
    second = _fields(lines[1], sep)
    return any(not _is_number(a) and _is_number(b) for a, b in zip(first[2:], second[2:]))


def _fields(line: str, sep: str) -> list[str]:
    return line.split() if sep == "whitespace" else _split(line, sep)


def normalise_sep(sep: str) -> str:
    names = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": "whitespace",
             "whitespace": "whitespace", "\\s+": "whitespace"}
    return names.get(sep, sep)



READERS: tuple[Reader, ...] = (
    Reader("parquet", _is_parquet, _parquet_ratings, _parquet_items, _parquet_table),
    Reader("text", _is_text, _text_ratings, _text_items, _text_table),  # last: takes the rest
)
