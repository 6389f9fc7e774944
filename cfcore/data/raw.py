"""Bytes of a source: read (the head or the whole), gunzipped, and refused when clearly not text or Parquet."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

from cfcore.errors import DataError

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
            raw = fh.read(limit if limit and not is_gzip_path(path) else -1)
    if raw[:2] == b"\x1f\x8b":
        try:
            if limit:
                with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                    return gz.read(limit)
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{label}: the gzip data is damaged or cut short ({exc}); compress the file again") from None
    return raw


def is_gzip_path(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def looks_gzip(source) -> bool:
    if isinstance(source, bytes):
        return source[:2] == b"\x1f\x8b"
    return is_gzip_path(Path(source))


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


def is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # only a character cut by the head read
