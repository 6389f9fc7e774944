"""PCA of learned embeddings, for the 2D/3D map of items (or users)."""

from __future__ import annotations

import re
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


def axis_title(frame: pd.DataFrame, axis: str, name: str, n: int = 2, width: int = 22) -> str:
    """An axis named by the titles at its two ends: "PC1: Bio-Dome, Home Alone 3 ↔ Chinatown, Fargo"."""
    low, high = axis_extremes(frame, axis, n)

    def short(titles: pd.Series) -> str:
        return ", ".join(t if len(t) <= width else t[: width - 1] + "…" for t in titles.astype(str))
    return f"{name}: {short(low['title'])} ↔ {short(high['title'])}"


def has_genre(genres: pd.Series, genre: str) -> np.ndarray:
    """(n,) True where the "A|B|C" string lists ``genre`` exactly."""
    pattern = rf"(?:^|\|){re.escape(genre)}(?:\||$)"
    return genres.fillna("").astype(str).str.contains(pattern, regex=True).to_numpy(bool)


def most_distinct_genre(coords: np.ndarray, genres: pd.Series, min_movies: int = 20,
                        min_share: float = 0.05, max_share: float = 0.4) -> str | None:
    """The genre whose movies sit furthest from the rest on the map (distance between the two centroids in
    units of the map's spread), among genres with at least ``min_movies`` movies and ``min_share`` of them
    (a genre of 27 movies in 2,000 stands apart but shows little) and at most ``max_share`` (Drama, half of
    all movies, is the other half's complement more than a cluster)."""
    coords = np.asarray(coords, np.float64)  # (n, d)
    min_movies = max(min_movies, int(min_share * len(coords)))
    spread = coords.std(0).mean() or 1.0
    dummies = genres.fillna("").astype(str).str.get_dummies(sep="|")  # one pass over the strings
    member, names = dummies.to_numpy(bool), dummies.columns  # (n, genres)
    n_member = member.sum(0)  # (genres,)
    usable = (n_member >= min_movies) & (n_member <= max_share * len(coords))
    if not usable.any():
        return None
    total = coords.sum(0)  # (d,)
    inside = member.T.astype(np.float64) @ coords / np.maximum(n_member, 1)[:, None]  # (genres, d) centroids
    outside = (total - inside * n_member[:, None]) / np.maximum(len(coords) - n_member, 1)[:, None]
    score = np.where(usable, np.linalg.norm(inside - outside, axis=1) / spread, -np.inf)
    return str(names[int(np.argmax(score))])


TSNE_STAGES = 4  # t-SNE runs in this many parts of 250 iterations, so a page can show its progress


def tsne_stages(embeddings: np.ndarray, rows: np.ndarray, seed: int = 0, perplexity: float = 30.0):
    """t-SNE (scikit-learn) of ``embeddings[rows]`` to 2D, in stages: yields (share done, coords (n, 2)).

    The first stage is scikit-learn's own start (PCA initialisation, early exaggeration); each later stage
    continues from the previous coordinates without exaggeration, which is what one long run does after it.
    Distances are cosine, as for similar movies and the map's neighbours, so the neighbours listed beside
    the map sit close on it.
    """
    from sklearn.manifold import TSNE  # imported when asked for: it is slow to import and rarely used

    data = np.asarray(embeddings[np.asarray(rows)], np.float64)  # (n, D)
    if len(data) < 5:
        raise ConfigError(f"t-SNE needs at least 5 points; got {len(data)} (lower the minimum ratings)")
    perplexity = min(perplexity, (len(data) - 1) / 3)  # scikit-learn refuses a perplexity >= n
    coords = None
    for stage in range(TSNE_STAGES):
        first = coords is None
        tsne = TSNE(n_components=2, perplexity=perplexity, random_state=seed, max_iter=250, metric="cosine",
                    init="pca" if first else coords, early_exaggeration=12.0 if first else 1.0,
                    learning_rate="auto")
        coords = tsne.fit_transform(data)  # (n, 2)
        yield (stage + 1) / TSNE_STAGES, coords
