"""A seeded generator of ratings from a known low-rank model, so tests and benchmarks have known answers.

rating = global + user_bias + item_bias + user_vec . item_vec + N(0, noise^2), with long-tail item
popularity and user activity, item vectors drawn around genre centres, and made-up titles.
The noise sigma is the best RMSE any model can reach on this data.

Which movies a user rates follows their taste as well as popularity (``choice``): a user picks a genre
with odds ~ the genre's popularity x exp(choice x how much they like its centre), then a movie of that
genre by popularity. So there is something to learn about choices beyond "most popular"; choice 0 picks
by popularity alone (the generator before this option, draw for draw).
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
    # how strongly taste (not only popularity) decides which movies a user rates; 0 (the default: every
    # dataset and figure made before the option stays the same) = popularity alone
    choice: float = 0.0
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
        if not 0 <= self.choice <= 10:
            raise ValueError(f"choice must be between 0 and 10, got {self.choice}")
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
            kwargs[key] = float(value) if key in ("noise", "popularity_exponent", "choice") else int(float(value))
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
        planted = f"&choice={self.choice:g}" if self.choice else ""
        return f"{BUILTIN_SYNTHETIC}?n_ratings={self.n_ratings}&noise={self.noise:g}{planted}&seed={self.seed}"


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
    if spec.choice > 0:  # a user's genre odds follow their taste for its centre, then popularity within it
        affinity = user_vecs @ genre_centres.T / np.sqrt(rank) ** 0.5  # (U, G): the taste term, per genre centre
        affinity = (affinity - affinity.mean()) / max(affinity.std(), 1e-9)
        genre_mass = np.bincount(item_genre, weights=item_p, minlength=spec.n_genres)  # (G,)
        odds = genre_mass * np.exp(spec.choice * affinity)  # (U, G)
        user_idx, item_idx = _distinct_pairs(rng, spec.n_ratings, user_p, item_p,
                                             (odds / odds.sum(1, keepdims=True), item_genre))
    else:
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


def _distinct_pairs(rng: np.random.Generator, n: int, user_p: np.ndarray, item_p: np.ndarray,
                    by_genre: tuple[np.ndarray, np.ndarray] | None = None):
    """``n`` distinct (user, item) pairs drawn from the popularity weights, in random order; with ``by_genre``
    ((U, G) each user's genre odds, (I,) each item's genre) the item is drawn within a genre the user picked."""
    n_items = len(item_p)
    codes = np.empty(0, dtype=np.int64)
    draw = int(n * 1.2) + 100
    while len(codes) < n:
        u = rng.choice(len(user_p), draw, p=user_p)
        i = rng.choice(n_items, draw, p=item_p) if by_genre is None else _items_by_genre(rng, u, item_p, *by_genre)
        new = u.astype(np.int64) * n_items + i
        codes = np.concatenate([codes, new])
        _, first = np.unique(codes, return_index=True)
        codes = codes[np.sort(first)]  # keep draw order so the result does not depend on sorting
        draw = int((n - len(codes)) * 2) + 100
    codes = codes[:n]
    return codes // n_items, codes % n_items


def _items_by_genre(rng: np.random.Generator, users: np.ndarray, item_p: np.ndarray, odds: np.ndarray,
                    item_genre: np.ndarray) -> np.ndarray:
    """One item per user draw: a genre from that user's odds, then an item of the genre by popularity."""
    cumulative = np.cumsum(odds, axis=1)  # (U, G)
    genre = (rng.random(len(users))[:, None] > cumulative[users]).sum(1)  # (n,)
    genre = np.minimum(genre, odds.shape[1] - 1)
    items = np.empty(len(users), dtype=np.int64)
    for g in range(odds.shape[1]):
        mine = np.flatnonzero(genre == g)
        members = np.flatnonzero(item_genre == g)
        if not len(mine):
            continue
        if not len(members):  # a genre without movies: fall back to the whole catalogue
            members = np.arange(len(item_p))
        p = item_p[members] / item_p[members].sum()
        items[mine] = members[rng.choice(len(members), len(mine), p=p)]
    return items
