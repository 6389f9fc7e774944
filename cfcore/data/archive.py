"""ZIP archives of ratings: which member holds the ratings and which the item metadata, read safely.

GroupLens ships MovieLens as ZIP files (``ml-latest-small.zip`` holds ``ratings.csv`` and
``movies.csv`` beside links, tags and a README; ``ml-100k.zip`` holds ``u.data`` and ``u.item``
among twenty others). An archive with one ratings file and at most one metadata file loads from
one upload. Sizes come from the archive's directory and are checked before anything is
decompressed, and a member is never read past its declared size, so a zip bomb is refused unread.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cfcore.errors import DataError

ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMBERS = 200  # ml-100k has 23, ml-25m 7; thousands of entries is not a ratings download
MAX_TOTAL_BYTES = 8 * 2**30  # uncompressed, all members read (ml-25m's ratings.csv is 0.68 GB)
MAX_RATIO = 200  # uncompressed / compressed for a large member: text compresses 3-10x, a bomb 1000x+
RATIO_CHECKED_ABOVE = 64 * 2**20  # small members may compress very well (a column of equal values)

RATINGS_NAMES = ("ratings.csv", "ratings.dat", "u.data", "ratings.tsv", "ratings.parquet", "ratings.txt")
ITEMS_NAMES = ("movies.csv", "movies.dat", "u.item", "items.csv", "movies.tsv", "items.tsv", "movies.parquet")
DATA_SUFFIXES = (".csv", ".tsv", ".dat", ".data", ".txt", ".parquet", ".gz")
NOT_DATA = ("readme", "license", "links", "tags", "genome", "u.user", "u.genre", "u.occupation", "u.info")


@dataclass(frozen=True)
class ArchiveFiles:
    """The bytes of an archive's ratings member and, when it has one, its metadata member."""

    ratings: bytes
    ratings_name: str  # "<archive label>:<member path>", for messages
    ratings_file: str  # the member's file name, e.g. "ratings.csv"
    items: bytes | None
    items_name: str | None


def is_zip(source: str | Path | bytes) -> bool:
    """Whether ``source`` (bytes, or a file's first bytes, never decompressed) is a ZIP archive; a path
    that cannot be read is not one (reading it again says why)."""
    if isinstance(source, bytes):
        return source[:4] == ZIP_MAGIC
    try:
        with open(source, "rb") as fh:
            return fh.read(4) == ZIP_MAGIC
    except OSError:
        return False


def open_archive(source: str | Path | bytes, label: str) -> ArchiveFiles:
    """Pick and read the ratings (and metadata) members of a ZIP archive; clear errors otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"{label}: damaged ZIP archive ({exc}); download it again") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise DataError(f"{label} holds {len(members):,} files (at most {MAX_MEMBERS} are accepted); an "
                            "archive should hold one ratings file and optionally one metadata file")
        files = [m for m in members if not _hidden(m.filename)]
        _check_sizes(files, label)
        ratings = _pick(files, RATINGS_NAMES, label)
        items = _pick(files, ITEMS_NAMES, label, required=False)
        if ratings is None:
            data = [m for m in files if _looks_like_data(m.filename) and m is not items]
            if len(data) == 1:
                ratings = data[0]
            elif not data:
                names = ", ".join(m.filename for m in files[:8]) or "nothing"
                raise DataError(f"{label} holds no ratings file ({names}); expected ratings.csv, u.data, "
                                "ratings.dat or one CSV/TSV/Parquet file (an Excel workbook is a ZIP too: "
                                "save it as CSV)")
            else:
                raise DataError(f"{label} holds {len(data)} data files ({', '.join(m.filename for m in data[:6])}); "
                                "name the ratings file ratings.csv (and the metadata movies.csv) or upload the "
                                "ratings file on its own")
        return ArchiveFiles(_read(archive, ratings, label), f"{label}:{ratings.filename}",
                            PurePosixPath(ratings.filename).name,
                            _read(archive, items, label) if items is not None else None,
                            f"{label}:{items.filename}" if items is not None else None)


def _hidden(name: str) -> bool:
    path = PurePosixPath(name)
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _looks_like_data(name: str) -> bool:
    base = PurePosixPath(name).name.lower()
    return base.endswith(DATA_SUFFIXES) and not base.startswith(NOT_DATA)


def _pick(files: list, names: tuple[str, ...], label: str, required: bool = True):
    """The one member whose file name (in any folder) is one of ``names``, preferring the earlier names."""
    for wanted in names:
        hits = [m for m in files if PurePosixPath(m.filename).name.lower() == wanted]
        if len(hits) > 1:
            raise DataError(f"{label} holds {len(hits)} files named {wanted} ({', '.join(m.filename for m in hits[:4])}); "
                            "keep one dataset per archive")
        if hits:
            return hits[0]
    return None


def _check_sizes(files: list, label: str) -> None:
    total = sum(m.file_size for m in files)
    if total > MAX_TOTAL_BYTES:
        raise DataError(f"{label} would unpack to {total / 2**30:.1f} GiB (more than {MAX_TOTAL_BYTES / 2**30:.0f} "
                        "GiB); upload the ratings file on its own")
    for m in files:
        if m.file_size > RATIO_CHECKED_ABOVE and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise DataError(f"{label}: {m.filename} would unpack {m.file_size / max(m.compress_size, 1):,.0f} times its "
                            "compressed size, which ratings never do (a zip bomb?); it was not opened")


def _read(archive: zipfile.ZipFile, member, label: str) -> bytes:
    try:
        with archive.open(member) as fh:
            data = fh.read(member.file_size + 1)  # never more than declared (+1 shows a lie)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise DataError(f"{label}: cannot read {member.filename} from the archive ({exc})") from None
    if len(data) > member.file_size:
        raise DataError(f"{label}: {member.filename} unpacks to more than its declared size; it was not used")
    return data
