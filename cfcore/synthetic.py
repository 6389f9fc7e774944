"""A seeded generator of ratings from a known low-rank model, so tests and benchmarks have known answers.

rating = global + user_bias + item_bias + user_vec . item_vec + N(0, noise^2), with long-tail item
popularity and user activity, item vectors drawn around genre centres, and made-up titles.
The noise sigma is the best RMSE any model can reach on this data.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from cfcore.data.dataset import BUILTIN_SYNTHETIC, Dataset, LoadReport
from cfcore.ids import IdMap
from cfcore.ratings import Ratings

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Documentary", "Animation")
_WORDS_A = ("Silent", "Crimson", "Last", "Hidden", "Electric", "Broken", "Golden", "Midnight", "Lost", "Wild")
_WORDS_B = ("River", "Empire", "Garden", "Signal", "Horizon", "Machine", "Harbor", "Promise", "Frontier", "Echo")


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and shape of a synthetic dataset; users/items default to the shape of MovieLens-like data."""

    n_ratings: int = 100_000  # ratings to draw (exactly this many distinct (user, item) pairs)
    n_users: int | None = None  # default n_ratings / 100, at least 20
    n_items: int | None = None  # default grows slower than ratings, like real catalogues
    rank: int = 8  # true dimension of the taste vectors
    noise: float = 0.5  # sigma of the Gaussian noise: the irreducible RMSE
    n_genres: int = 6  # clusters of item vectors, named after film genres
    popularity_exponent: float = 1.0  # Zipf exponent of item popularity (long tail)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_ratings < 10:
            raise ValueError(f"n_ratings must be at least 10, got {self.n_ratings}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if not 1 <= self.n_genres <= len(GENRES):
            raise ValueError(f"n_genres must be 1..{len(GENRES)}, got {self.n_genres}")
        if self.rank < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank}")
        if self.density > 0.5:
            raise ValueError(
                f"{self.n_ratings} ratings do not fit in {self.users} users x {self.items} items "
                "at most half full; add users or items"
            )

    @classmethod
    def from_options(cls, options: dict[str, str]) -> SyntheticSpec:
        known = {f.name: f.type for f in fields(cls)}
        kwargs = {}
        for key, value in options.items():
            if key not in known:
                raise ValueError(f"unknown option {key!r}; known: {', '.join(known)}")
            kwargs[key] = float(value) if key in ("noise", "popularity_exponent") else int(float(value))
        return cls(**kwargs)

    @property
    def users(self) -> int:
        return self.n_users or max(20, self.n_ratings // 150)

    @property
    def items(self) -> int:
        # 100K -> ~1,700, 1M -> ~2,500 ... grows like the catalogues in the speed issue's table
        return self.n_items or max(30, int(1700 * (self.n_ratings / 100_000) ** 0.17 if self.n_ratings <= 1_000_000
                                           else 2500 * (self.n_ratings / 1_000_000)))

    @property
    def density(self) -> float:
        return self.n_ratings / (self.users * self.items)

    def source(self) -> str:
        return f"{BUILTIN_SYNTHETIC}?n_ratings={self.n_ratings}&noise={self.noise:g}&seed={self.seed}"


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """The dataset and the true parameters that produced it (indexed like the dataset's id maps)."""

    dataset: Dataset
    global_mean: float
    user_bias: np.ndarray  # (n_users,)
    item_bias: np.ndarray  # (n_items,)
    user_vecs: np.ndarray  # (n_users, rank)
    item_vecs: np.ndarray  # (n_items, rank)
    item_genre: np.ndarray  # (n_items,) int

    def true_rating(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """Noise-free rating of pairs under the true model."""
        dot = np.einsum("nd,nd->n", self.user_vecs[user_idx], self.item_vecs[item_idx])
        return self.global_mean + self.user_bias[user_idx] + self.item_bias[item_idx] + dot


def generate(spec: SyntheticSpec = SyntheticSpec()) -> SyntheticData:
    """Draw a dataset from ``spec``; the same spec always gives the same data."""
    rng = np.random.default_rng(spec.seed)
    n_users, n_items, rank = spec.users, spec.items, spec.rank
    genre_centres = rng.normal(0.0, 1.0, (spec.n_genres, rank))  # (G, r)
    item_genre = rng.integers(0, spec.n_genres, n_items)  # (I,)
    # scale so the interaction term has std ~0.8, comparable to real taste effects
    item_vecs = (genre_centres[item_genre] + 0.6 * rng.normal(size=(n_items, rank))) / np.sqrt(rank) ** 0.5  # (I, r)
    user_vecs = rng.normal(0.0, 0.7, (n_users, rank)) / np.sqrt(rank) ** 0.5  # (U, r)
    user_bias = rng.normal(0.0, 0.3, n_users)
    item_bias = rng.normal(0.0, 0.4, n_items)
    global_mean = 3.5

    # long tails: item popularity ~ Zipf over a random order; user activity lognormal
    item_p = 1.0 / np.arange(1, n_items + 1) ** spec.popularity_exponent
    item_p = item_p[rng.permutation(n_items)]
    item_p /= item_p.sum()
    user_p = rng.lognormal(0.0, 0.8, n_users)
    user_p /= user_p.sum()
    user_idx, item_idx = _distinct_pairs(rng, spec.n_ratings, user_p, item_p)

    dot = np.einsum("nd,nd->n", user_vecs[user_idx], item_vecs[item_idx])
    rating = global_mean + user_bias[user_idx] + item_bias[item_idx] + dot + rng.normal(0.0, spec.noise, len(user_idx))
    timestamp = 1_500_000_000 + np.sort(rng.integers(0, 3 * 365 * 86400, len(user_idx)))[rng.permutation(len(user_idx))]

    users = IdMap(np.arange(1, n_users + 1), "user")
    items = IdMap(np.arange(1, n_items + 1), "item")
    ratings = Ratings(user_idx, item_idx, rating.astype(np.float32), users, items, timestamp.astype(np.int64))
    catalog = pd.DataFrame({
        "item_id": items.index.to_numpy(),
        "title": [f"{_WORDS_A[i % 10]} {_WORDS_B[(i // 10) % 10]} {i // 100 + 1}" for i in range(n_items)],
        "year": rng.integers(1950, 2024, n_items).astype(np.float64),
        "genres": [GENRES[g] for g in item_genre],
    })
    report = LoadReport(
        source=spec.source(), format="built-in synthetic", separator=None, has_header=True,
        columns={"user": "user", "item": "item", "rating": "rating", "timestamp": "timestamp"},
        available_columns=["user", "item", "rating", "timestamp"], n_rows_read=len(rating), dropped={},
        n_duplicates=0, scale=ratings.scale,
        warnings=[f"synthetic: rank {rank}, noise sigma {spec.noise:g} (the best achievable RMSE), seed {spec.seed}"],
    )
    dataset = Dataset(f"synthetic {spec.n_ratings:,}", ratings, catalog, report, noise_floor=spec.noise)
    return SyntheticData(dataset, global_mean, user_bias, item_bias, user_vecs, item_vecs, item_genre)


def _distinct_pairs(rng: np.random.Generator, n: int, user_p: np.ndarray, item_p: np.ndarray):
    """``n`` distinct (user, item) pairs drawn from the popularity weights, in random order."""
    n_items = len(item_p)
    codes = np.empty(0, dtype=np.int64)
    draw = int(n * 1.2) + 100
    while len(codes) < n:
        u = rng.choice(len(user_p), draw, p=user_p)
        i = rng.choice(n_items, draw, p=item_p)
        new = u.astype(np.int64) * n_items + i
        codes = np.concatenate([codes, new])
        _, first = np.unique(codes, return_index=True)
        codes = codes[np.sort(first)]  # keep draw order so the result does not depend on sorting
        draw = int((n - len(codes)) * 2) + 100
    codes = codes[:n]
    return codes // n_items, codes % n_items
