"""Raw ids <-> contiguous indices: one IdMap per axis (users, items).

Raw ids (``user_id``, ``item_id``) are whatever the file held, ints or strings; indices
(``user_idx``, ``item_idx``) are 0..n-1 and are what the model sees. Only this module converts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from cfcore.errors import UnknownIdError


class IdMap:
    """An ordered list of raw ids; position in the list is the index.

    Parameters
    ----------
    ids : sequence of int or str
        Unique raw ids in index order.
    name : str
        What the ids are ("user" or "item"), used in error messages.
    """

    def __init__(self, ids: Sequence | np.ndarray | pd.Index, name: str = "id") -> None:
        index = pd.Index(ids)
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise ValueError(f"{name} ids must be unique; {dup!r} appears twice")
        self.index = index
        self.name = name

    @classmethod
    def from_values(cls, values: np.ndarray | pd.Series, name: str) -> tuple[IdMap, np.ndarray]:
        """Build a map from raw values (sorted ids) and return it with each value's index."""
        values = np.asarray(values)
        if values.dtype.kind in "iu" and len(values) and values.min() >= 0 and values.max() < 4 * len(values) + 1_000_000:
            # compact non-negative integer ids (MovieLens): a lookup table beats hashing 25M values
            present = np.zeros(int(values.max()) + 1, dtype=bool)
            present[values] = True
            uniques = np.flatnonzero(present)
            position = np.cumsum(present) - 1  # id -> index among the present ids
            return cls(uniques.astype(values.dtype, copy=False), name), position[values].astype(np.int64)
        codes, uniques = pd.factorize(pd.Series(values), sort=True)
        return cls(uniques, name), codes.astype(np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self.index[:3])
        return f"IdMap({self.name}, n={len(self)}, [{head}{', ...' if len(self) > 3 else ''}])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self.index.equals(other.index)

    @property
    def is_integer(self) -> bool:
        return pd.api.types.is_integer_dtype(self.index.dtype)

    def to_idx(self, ids: Iterable, missing: str = "raise") -> np.ndarray:
        """Indices of raw ids; ``missing="raise"`` raises UnknownIdError, ``"ignore"`` gives -1."""
        ids_list = ids if isinstance(ids, (np.ndarray, pd.Index, pd.Series)) else list(ids)
        idx = self.index.get_indexer(self._coerce(ids_list))
        if missing == "raise" and (idx < 0).any():
            bad = np.asarray(ids_list, dtype=object)[idx < 0][0]
            raise UnknownIdError(f"unknown {self.name}_id {bad!r}: it is not in the training data")
        return idx.astype(np.int64)

    def idx(self, raw_id) -> int:
        """Index of one raw id."""
        return int(self.to_idx([raw_id])[0])

    def to_id(self, idx: Iterable[int] | np.ndarray) -> np.ndarray:
        """Raw ids at indices."""
        return self.index.to_numpy()[np.asarray(idx, dtype=np.int64)]

    def to_list(self) -> list:
        """Raw ids as plain Python ints or strings (checkpoint-safe)."""
        return [x.item() if hasattr(x, "item") else str(x) for x in self.index.to_numpy()]

    def _coerce(self, ids) -> pd.Index:
        """Match the map's id type so "12" finds 12 in an integer map and 12 finds "12" in a string map."""
        query = pd.Index(ids)
        if self.is_integer and not pd.api.types.is_integer_dtype(query.dtype):
            return pd.Index([_as_int(x) for x in query], dtype=object)
        if not self.is_integer and pd.api.types.is_integer_dtype(query.dtype):
            return query.astype(str)
        return query


def _as_int(x) -> int | None:
    """An id typed by a person ("12", 12.0) as the int it names, or None when it names none."""
    try:
        value = float(str(x).strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() else None
