"""PCA of learned embeddings, for the 2D/3D map of items (or users)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from cfcore.errors import ConfigError


@dataclass(frozen=True, eq=False)
class Projection:
    """Coordinates of the chosen rows and how much of the embeddings' variance each axis explains."""

    coords: np.ndarray  # (n, n_components)
    rows: np.ndarray  # (n,) indices of the projected rows (item_idx or user_idx)
    explained_variance_ratio: np.ndarray  # (n_components,)
    components: np.ndarray  # (n_components, D), to place new vectors (e.g. a folded-in user) on the map
    mean: np.ndarray  # (D,)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Place other vectors (n, D) in the same axes."""
        return (np.atleast_2d(vectors) - self.mean) @ self.components.T

    def frame(self, labels: pd.DataFrame | None = None) -> pd.DataFrame:
        """The coordinates as columns pc1.. beside optional per-row labels (indexed like the embeddings)."""
        coords = pd.DataFrame(self.coords, columns=[f"pc{i + 1}" for i in range(self.coords.shape[1])])
        if labels is None:
            return coords
        return pd.concat([labels.iloc[self.rows].reset_index(drop=True), coords], axis=1)


def project(embeddings: np.ndarray, n_components: int = 2, rows: np.ndarray | None = None,
            seed: int = 0) -> Projection:
    """PCA (scikit-learn) of ``embeddings[rows]`` (all rows when None) to ``n_components`` axes."""
    rows = np.arange(len(embeddings)) if rows is None else np.asarray(rows, dtype=np.int64)
    if not 1 <= n_components <= embeddings.shape[1]:
        raise ConfigError(f"n_components must be 1..{embeddings.shape[1]}; got {n_components}")
    if len(rows) < n_components + 1:
        raise ConfigError(f"need at least {n_components + 1} rows to project; got {len(rows)} (lower the filter)")
    data = embeddings[rows].astype(np.float64)  # (n, D)
    pca = PCA(n_components=n_components, random_state=seed)
    coords = pca.fit_transform(data)
    # fix each axis' sign (largest loading positive) so the map does not flip between runs of PCA
    signs = np.sign(pca.components_[np.arange(n_components), np.abs(pca.components_).argmax(1)])
    signs[signs == 0] = 1
    return Projection(coords * signs, rows, pca.explained_variance_ratio_, pca.components_ * signs[:, None], pca.mean_)


def axis_extremes(frame: pd.DataFrame, axis: str, n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` rows at the low and the high end of one axis (e.g. "pc1") of a projection frame."""
    ordered = frame.sort_values(axis, kind="stable")
    return ordered.head(n).reset_index(drop=True), ordered.tail(n).iloc[::-1].reset_index(drop=True)


def main_genre(genres: pd.Series) -> pd.Series:
    """The first listed genre of each "A|B|C" string ("(none)" when empty), for colouring a map."""
    first = genres.fillna("").astype(str).str.split("|").str[0]
    return first.where(first != "", "(none)")
