"""The entry point: ``load_dataset`` turns a path, an upload's bytes, a ZIP archive or a built-in source
into a validated Dataset, with errors that name the problem."""

from __future__ import annotations

from pathlib import Path

from cfcore.data.archive import is_zip, open_archive
from cfcore.data.builtin import load_builtin
from cfcore.data.dataset import Dataset, LoadReport, default_catalog
from cfcore.data.formats import read_ratings_frame
from cfcore.data.items import with_items
from cfcore.data.preview import ROLES, preview_ratings
from cfcore.data.validate import validate
from cfcore.errors import DataError


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
        dataset = load_builtin(source)
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
    frame, info = read_ratings_frame(source, label=label, sep=sep, columns=columns)
    fmt = info.format + (f", from the ZIP archive's {member}" if member is not None else "")
    ratings, dropped, n_dup, warnings = validate(frame, info, label, scale)
    report = LoadReport(
        source=label, format=fmt, separator=info.sep, has_header=info.header,
        columns=info.columns, available_columns=info.available, n_rows_read=len(frame),
        dropped=dropped, n_duplicates=n_dup, scale=ratings.scale, warnings=warnings,
    )
    dataset = Dataset(dataset_name, ratings, default_catalog(ratings.items), report)
    if items is not None:
        dataset = with_items(dataset, items, name=items_name)
    return dataset


def load_test_file(source: str | Path | bytes, *, name: str, like: LoadReport) -> Dataset:
    """A separate test file's ratings, read as the training data was: with ``like``'s separator and column
    mapping when the file has those columns (the timestamp may be missing), else detected as any ratings file is.

    A file neither way can read raises DataError naming both its columns and the training data's.
    """
    mapping = [like.columns[role] for role in ROLES if role in like.columns]
    preview = None
    for sep in dict.fromkeys([like.separator, None]):  # the training file's separator first, then detection
        try:
            preview = preview_ratings(source, name=name, sep=sep)
        except DataError:
            if sep is None:
                raise
            continue
        for columns in (mapping, mapping[:3]):  # test ratings without their times are still test ratings
            if all(col in preview.available for col in columns):
                return load_dataset(source, name=name, sep=sep, columns=columns)
    if preview.failed:
        raise DataError(
            f"{name}: its columns ({', '.join(preview.available)}) are not the training data's "
            f"({', '.join(mapping)}), and no {' or '.join(preview.missing)} column could be recognised; "
            "give the test file the same header as the ratings file")
    return load_dataset(source, name=name)
