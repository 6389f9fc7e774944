"""Saved datasets: each one kept beside the runs as Parquet plus a content hash, so it survives restarts.

A dataset's hash is computed from its ratings (user id, item id, rating, in file order), so the same
data uploaded twice is stored once, and a run trained on it finds it again (its checkpoint records
the hash). Folders are written under a temporary name and renamed into place; an unreadable one is
listed as such and never stops the others from loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore import jsonio
from cfcore.data.dataset import Dataset
from cfcore.data.load import load_dataset
from cfcore.errors import CFError, DataError
from cfcore.ratings import Ratings

STORE_FOLDER = ".datasets"  # inside the runs folder; hidden, so the runs listing skips it
STORE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedDataset:
    """What the Data page lists about one saved dataset."""

    content_hash: str
    path: Path
    readable: bool
    name: str = ""
    n_ratings: int = 0
    n_users: int = 0
    n_items: int = 0
    created: float = 0.0
    error: str = ""


def content_hash(ratings: Ratings) -> str:
    """Hex SHA-256 of the ratings' content (raw ids and values), independent of file format and name."""
    frame = pd.DataFrame({"user_id": ratings.users.to_id(ratings.user_idx),
                          "item_id": ratings.items.to_id(ratings.item_idx), "rating": ratings.rating})
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def store_dir(runs_dir: str | Path) -> Path:
    return Path(runs_dir) / STORE_FOLDER


def save_dataset(runs_dir: str | Path, dataset: Dataset, digest: str | None = None) -> SavedDataset:
    """Keep ``dataset`` (ratings and catalogue) in the store; a dataset already there is not written again."""
    digest = digest or content_hash(dataset.ratings)
    root = store_dir(runs_dir)
    final = root / digest[:32]
    if (final / "meta.json").is_file():
        return read_saved(final)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{digest[:12]}-{secrets.token_hex(3)}"
    tmp.mkdir()
    try:
        frame = dataset.ratings.to_frame()
        frame.to_parquet(tmp / "ratings.parquet", index=False)
        dataset.catalog.to_parquet(tmp / "items.parquet", index=False)
        meta = {"format_version": STORE_FORMAT_VERSION, "content_hash": digest, "name": dataset.name,
                "n_ratings": len(dataset.ratings), "n_users": dataset.ratings.n_users,
                "n_items": dataset.ratings.n_items, "created": time.time(), "credit": dataset.credit,
                "scale": [dataset.ratings.scale.min, dataset.ratings.scale.max],
                "noise_floor": dataset.noise_floor}
        (tmp / "meta.json").write_text(jsonio.dumps(meta, indent=2))
        try:
            os.rename(tmp, final)
        except OSError:  # another session saved the same data meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_saved(final)


def read_saved(path: Path) -> SavedDataset:
    """The listing of one saved dataset; problems make it unreadable, never raise."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        if not isinstance(meta, dict) or meta.get("format_version") != STORE_FORMAT_VERSION:
            raise ValueError("meta.json is not a CF Studio dataset description")
        if not (path / "ratings.parquet").is_file():
            raise ValueError("ratings.parquet is missing")
        return SavedDataset(str(meta["content_hash"]), path, True, str(meta.get("name", "")),
                            int(meta.get("n_ratings", 0)), int(meta.get("n_users", 0)), int(meta.get("n_items", 0)),
                            float(meta.get("created", 0.0)))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return SavedDataset(path.name, path, False, error=f"{type(exc).__name__}: {exc}"[:200])


def list_saved(runs_dir: str | Path) -> list[SavedDataset]:
    """Every saved dataset, newest first; unreadable ones included (``readable=False``)."""
    root = store_dir(runs_dir)
    if not root.is_dir():
        return []
    found = [read_saved(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found, key=lambda d: (d.created, d.content_hash), reverse=True)


def find_saved(runs_dir: str | Path, digest: str) -> SavedDataset | None:
    """The saved dataset with this content hash (or a prefix of it, as URLs carry), if any."""
    if not digest or not all(c in "0123456789abcdef" for c in digest):
        return None
    for saved in list_saved(runs_dir):
        if saved.readable and saved.content_hash.startswith(digest):
            return saved
    return None


def load_saved(saved: SavedDataset) -> Dataset:
    """Read a saved dataset back; a damaged one raises DataError saying which and what to do."""
    label = f"saved dataset {saved.name or saved.content_hash[:12]}"
    if not saved.readable:
        raise DataError(f"{label} cannot be read ({saved.error}); upload the file again")
    try:
        meta = json.loads((saved.path / "meta.json").read_text())
        dataset = load_dataset(str(saved.path / "ratings.parquet"), name=meta.get("name") or None,
                               scale=tuple(meta["scale"]) if meta.get("scale") else None)
        catalog = pd.read_parquet(saved.path / "items.parquet")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{label} is damaged ({type(exc).__name__}: {str(exc)[:150]}); upload the file again") from None
    except CFError as exc:
        raise DataError(f"{label} is damaged ({exc}); upload the file again") from None
    if content_hash(dataset.ratings) != saved.content_hash:
        raise DataError(f"{label} does not match its recorded content hash; upload the file again")
    if list(catalog.columns[:4]) == ["item_id", "title", "year", "genres"] and len(catalog) == dataset.ratings.n_items:
        catalog["year"] = catalog["year"].astype(np.float64)
        dataset = Dataset(dataset.name, dataset.ratings, catalog, dataset.report, meta.get("credit"),
                          meta.get("noise_floor"))
    return dataset
