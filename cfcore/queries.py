"""Queries on a fitted model: predictions, top-k, similar items, fold-in for new users, explanations (numpy only).

The query contract, once:
- Inputs are raw ids (``user_id``, ``item_id``) as in the ratings file; unknown ids raise
  ``UnknownIdError`` except in ``predict``, which predicts them from what is known (biases, mean).
- ``k`` is the number of rows returned (fewer when fewer items qualify); rows are best first, ties
  broken by the lower item index.
- Lists are ordered by the ranking model (``ranker``, a kind from ``cfcore/rankers``); the stars shown
  beside each pick always come from the rating model (limited to the scale), its explanation too.
- ``recommend`` excludes every item the user rated in the dataset the model was trained on (training
  and held-out ratings alike), unless ``exclude_seen=False``; evaluation (``top_k_idx``, see
  ``evaluation.py``) excludes training ratings only, since held-out ones are what it looks for.
- Results are pandas DataFrames (catalogue columns: title, year, genres, ...) or numpy arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cfcore.catalog import Catalog
from cfcore.errors import ConfigError, DataError
from cfcore.ids import IdMap
from cfcore.mapframes import MapFrames
from cfcore.rankers.base import Ranker
from cfcore.rating_model import RatingModel
from cfcore.ratings import Ratings, RatingScale

if TYPE_CHECKING:  # the record describes the run; queries never read it
    from cfcore.records import RunRecord


class Interactions:
    """Who rated what, grouped by user index: (indptr (U+1,), item_idx, rating), items ascending per user."""

    def __init__(self, indptr: np.ndarray, items: np.ndarray, ratings: np.ndarray | None = None) -> None:
        self.indptr, self.items = np.asarray(indptr, np.int64), np.asarray(items, np.int32)
        self.ratings = np.asarray(ratings, np.float32) if ratings is not None else None

    @classmethod
    def of(cls, ratings: Ratings | None, n_users: int) -> Interactions:
        """Group ``ratings`` by user (none: every user has an empty row)."""
        if ratings is None or not len(ratings):
            return cls(np.zeros(n_users + 1, np.int64), np.empty(0, np.int32), np.empty(0, np.float32))
        order = np.lexsort((ratings.item_idx, ratings.user_idx))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(ratings.user_idx, minlength=n_users))])
        return cls(indptr, ratings.item_idx[order], ratings.rating[order])

    def of_user(self, user_idx: int) -> np.ndarray:
        return self.items[self.indptr[user_idx]:self.indptr[user_idx + 1]]

    def counts(self) -> np.ndarray:
        """(U,) interactions per user."""
        return np.diff(self.indptr)

    def pairs(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, item_idx) of every interaction of ``users``, rows numbering the users 0..len-1 (one gather,
        no loop per user)."""
        lo, hi = self.indptr[users], self.indptr[users + 1]  # (b,), (b,)
        counts = hi - lo
        rows = np.repeat(np.arange(len(users)), counts)
        return rows, self.items[np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())]


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) indices and values of each row's k highest scores, best first; ties go to the lower index.

    A partition finds a top-k set in O(I); where ties at the k-th value reach past that set (popularity
    counts tie often), the row is settled by a stable sort so the answer never depends on the partition.
    """
    n, n_items = scores.shape
    k = min(k, n_items)
    if k == 0:
        return np.empty((n, 0), np.int64), np.empty((n, 0), scores.dtype)
    if k < n_items:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (n, k)
        values = np.take_along_axis(scores, part, axis=1)
        kth = values.min(axis=1)  # (n,)
        ties_all = (scores == kth[:, None]).sum(axis=1)
        ties_kept = (values == kth[:, None]).sum(axis=1)
        for row in np.flatnonzero(ties_all > ties_kept):  # rare: ties at the cut
            part[row] = np.argsort(-scores[row], kind="stable")[:k]
        values = np.take_along_axis(scores, part, axis=1)
    else:
        part = np.broadcast_to(np.arange(n_items), (n, n_items)).copy()
        values = scores.copy()
    order = np.lexsort((part, -values), axis=-1)  # by score, then index
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


class Recommender:
    """A fitted rating model (the stars) and ranking model (the order), with id maps, catalogue and interactions.

    Learned arrays (numpy): ``user_factors_`` (U, D), ``item_factors_`` (I, D), ``user_bias_`` (U,),
    ``item_bias_`` (I,), ``global_bias_``. ``record`` is the run that produced the model (None while the
    run is being evaluated); ``map_frames`` the movie map over training, when the run kept it.
    """

    def __init__(self, rating: RatingModel, ranker: Ranker, users: IdMap, items: IdMap, catalog: Catalog, *,
                 seen: Interactions, heldout: Interactions, scale: RatingScale, record: RunRecord | None = None,
                 map_frames: MapFrames | None = None) -> None:
        if rating.n_users != len(users) or rating.n_items != len(items) or len(catalog) != len(items):
            raise ConfigError(f"model has {rating.n_users} users x {rating.n_items} items but the id maps have "
                              f"{len(users)} x {len(items)} and the catalogue {len(catalog)} items")
        self.rating, self.ranker = rating, ranker
        self.users, self.items, self.catalog, self.scale = users, items, catalog, scale
        self.seen, self.heldout = seen, heldout
        self.record, self.map_frames = record, map_frames
        # the vectors similar movies, the map and "because" show: those that rank when the ranker has any
        # (the tuned model's), else the rating model's taste vectors
        own = ranker.item_vectors()
        self.vectors_rank = own is not None
        self.shown_item_vectors = own if own is not None else rating.item_factors  # (I, D)
        self.shown_user_vectors = ranker.user_vectors() if own is not None else rating.user_factors  # (U, D)
        norms = np.linalg.norm(self.shown_item_vectors, axis=1, keepdims=True)
        self._unit_items = self.shown_item_vectors / np.maximum(norms, 1e-12)  # (I, D), zero rows stay zero

    @classmethod
    def build(cls, rating: RatingModel, ranker: Ranker, train: Ratings, metadata: pd.DataFrame | None = None, *,
              heldout: Ratings | None = None) -> Recommender:
        """From the training ratings; ``heldout`` (validation) ratings are remembered as rated, not as seen."""
        seen = Interactions.of(train, train.n_users)
        catalog = Catalog.build(metadata, train.items, seen.items, seen.ratings)
        return cls(rating, ranker, train.users, train.items, catalog, seen=seen,
                   heldout=Interactions.of(heldout, train.n_users), scale=train.scale)

    def with_record(self, record: RunRecord, map_frames: MapFrames | None = None) -> Recommender:
        """The same model (arrays shared) carrying the record of the run that made it."""
        return Recommender(self.rating, self.ranker, self.users, self.items, self.catalog, seen=self.seen,
                           heldout=self.heldout, scale=self.scale, record=record,
                           map_frames=map_frames if map_frames is not None else self.map_frames)

    def __repr__(self) -> str:
        rmse = f", val_rmse={self.record.val_rmse:.4f}" if self.record is not None else ""
        return (f"Recommender(users={self.n_users}, items={self.n_items}, dim={self.rating.dim}, "
                f"lists by {self.kind}{rmse})")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def kind(self) -> str:
        """What orders the lists: the ranking model's kind."""
        return self.ranker.kind

    # the learned arrays under scikit-learn's names (views, not copies)
    user_factors_ = property(lambda self: self.rating.user_factors)
    item_factors_ = property(lambda self: self.rating.item_factors)
    user_bias_ = property(lambda self: self.rating.user_bias)
    item_bias_ = property(lambda self: self.rating.item_bias)
    global_bias_ = property(lambda self: self.rating.global_bias)

    # -- predictions ------------------------------------------------------------------------

    def predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """(n,) predicted ratings for index pairs; index -1 means unknown (predicted from the rest)."""
        return self.rating.predict_idx(user_idx, item_idx)

    def predict(self, user_ids: Iterable, item_ids: Iterable) -> np.ndarray:
        """Predicted ratings for raw id pairs; ids unseen in training use the mean and known biases."""
        return self.predict_idx(self.users.to_idx(user_ids, missing="ignore"),
                                self.items.to_idx(item_ids, missing="ignore"))

    def scores_for_user(self, user_idx: int) -> np.ndarray:
        """(I,) predicted rating of every item for one user index."""
        return self.rating.apply_output(self.rating.score_users(np.array([user_idx]))[0])  # (I,)

    # -- top-k ------------------------------------------------------------------------------

    def rated(self, user_idx: int) -> np.ndarray:
        """Item indices the user rated anywhere in the dataset: training and held-out ratings."""
        return np.union1d(self.seen.of_user(user_idx), self.heldout.of_user(user_idx))

    def user_ratings(self, user_id, k: int | None = None) -> pd.DataFrame:
        """The user's training ratings, highest first, with catalogue columns."""
        user_idx = self.users.idx(user_id)
        lo, hi = self.seen.indptr[user_idx], self.seen.indptr[user_idx + 1]
        items, ratings = self.seen.items[lo:hi], self.seen.ratings[lo:hi]
        order = np.lexsort((-self.catalog.counts()[items], -ratings))
        frame = self.catalog.rows(items[order])
        frame.insert(len(frame.columns), "rating", ratings[order])
        return frame.head(k) if k else frame

    def recommend(self, user_id, k: int = 10, exclude_seen: bool = True,
                  item_mask: np.ndarray | None = None) -> pd.DataFrame:
        """Top-k items for a known user, ordered by the ranking model, with predicted ratings (stars).

        ``item_mask`` (I,) bool limits the candidates (e.g. a genre filter from ``catalog.filter``).
        ``exclude_seen`` leaves out everything the user rated, held-out ratings included. The
        ``score`` column is the ranking model's; with the rating model as ranker it is the raw
        (unclipped) prediction, so picks tied at the top of the scale keep a meaningful order.
        Two columns read without the model's units: ``match``, the share of the movies the user has not
        rated that score below the pick (0.998: it beats 99.8% of them), and ``vs_average``, the predicted
        stars minus the user's own mean rating (a harsh rater's 3.2 can be +0.7 for them).
        """
        user_idx = self.users.idx(user_id)
        score = self.ranker.score_users(np.array([user_idx]))[0]  # (I,)
        allowed = np.ones(self.n_items, dtype=bool) if item_mask is None else item_mask.copy()
        unrated = np.ones(self.n_items, dtype=bool)
        unrated[self.rated(user_idx)] = False
        if exclude_seen:
            allowed &= unrated
        best = self._best(score, allowed, k)
        stars = self.predict_idx(np.full(len(best), user_idx), best)
        frame = self._frame(best, stars, "predicted_rating")
        frame["score"] = score[best].astype(np.float64)
        pool = np.sort(score[unrated])  # (m,) the unrated movies' scores, ascending
        frame["match"] = np.searchsorted(pool, score[best], side="left") / max(1, len(pool) - 1)
        frame["match"] = frame["match"].clip(upper=1.0)
        lo, hi = self.seen.indptr[user_idx], self.seen.indptr[user_idx + 1]
        average = float(self.seen.ratings[lo:hi].mean()) if hi > lo else self.global_bias_
        frame["vs_average"] = stars.astype(np.float64) - average
        return frame

    def showcase_user(self, min_ratings: int = 30) -> object:
        """A user whose taste is easy to see, for a demo: among users with at least ``min_ratings`` ratings (or the
        most active tenth) who rate at or above the overall mean, the one with the largest share of their
        well-rated movies in a single genre; ties go to more ratings. Raw user id."""
        table = self.user_table()
        counts = table["n_ratings"].to_numpy()
        floor = min(min_ratings, np.quantile(counts[counts > 0], 0.9)) if (counts > 0).any() else 1
        overall = float(self.seen.ratings.mean()) if len(self.seen.ratings) else self.global_bias_
        candidates = np.flatnonzero((counts >= max(1, floor)) & (table["mean_rating"].to_numpy() >= overall))
        if not len(candidates):
            candidates = np.flatnonzero(counts == counts.max())
        genres = self.catalog.frame["genres"].astype(str).str.split("|").str[0].to_numpy()  # (I,) first genre
        best, best_key = candidates[0], (-1.0, -1)
        for u in candidates:
            lo, hi = self.seen.indptr[u], self.seen.indptr[u + 1]
            liked = self.seen.items[lo:hi][self.seen.ratings[lo:hi] >= max(np.median(self.seen.ratings[lo:hi]), 4.0)]
            names, n = np.unique(genres[liked], return_counts=True) if len(liked) else (np.array([""]), np.array([0]))
            share = n.max() / max(1, len(liked)) if names[n.argmax()] else 0.0
            key = (round(float(share), 3), int(counts[u]))
            if key > best_key:
                best, best_key = u, key
        return self.users.to_id([best])[0]

    def _best(self, score: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
        """Indices of the k highest scores among allowed items, best first (ties: lower index first)."""
        if k < 1:
            raise ConfigError(f"k must be at least 1; got {k}")
        candidates = np.flatnonzero(allowed)
        best, _ = top_k(np.asarray(score)[candidates][None, :], k)
        return candidates[best[0]]

    def _frame(self, item_idx: np.ndarray, values: np.ndarray | None, column: str) -> pd.DataFrame:
        """Catalogue rows for ``item_idx`` with ``values`` as ``column`` (left out when None)."""
        frame = self.catalog.rows(item_idx)
        if values is not None:
            frame.insert(4, column, np.asarray(values, np.float64))
        frame.insert(0, "item_idx", item_idx)
        return frame

    def top_k_idx(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True, batch_size: int = 1024,
                  ranker: Ranker | None = None, exclude_heldout: bool = False) -> np.ndarray:
        """(n, k) best item indices for many users at once, by ``ranker`` (default: the model's own).

        Excludes training ratings (``exclude_seen``), and held-out ones too with ``exclude_heldout``
        (what a person is shown; evaluation must not, since held-out items are what it looks for).
        """
        return self.top_k_scores(user_idx, k, exclude_seen, batch_size, ranker, exclude_heldout)[0]

    def top_k_scores(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True, batch_size: int = 1024,
                     ranker: Ranker | None = None, exclude_heldout: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``top_k_idx`` with the scores: (n, k) item indices and (n, k) float scores, -inf where a
        user has fewer than k candidates left (their index is then meaningless)."""
        ranker = ranker or self.ranker
        k = min(k, self.n_items)
        user_idx = np.asarray(user_idx, np.int64)
        out = np.empty((len(user_idx), k), dtype=np.int64)
        out_scores = np.empty((len(user_idx), k), dtype=np.float32)
        for start in range(0, len(user_idx), batch_size):
            batch = user_idx[start:start + batch_size]
            scores = np.array(ranker.score_users(batch), dtype=np.float32)  # (b, I), a copy we may write
            for interactions, wanted in ((self.seen, exclude_seen), (self.heldout, exclude_heldout)):
                if wanted:
                    rows, cols = interactions.pairs(batch)
                    scores[rows, cols] = -np.inf
            out[start:start + len(batch)], out_scores[start:start + len(batch)] = top_k(scores, k)
        return out, out_scores

    # -- similar items ----------------------------------------------------------------------

    def similar_items(self, item_id, k: int = 10, item_mask: np.ndarray | None = None,
                      support_shrink: float = 10.0) -> pd.DataFrame:
        """The k items whose vectors (``shown_item_vectors``: those that rank, when the ranking model has any)
        are closest by cosine similarity (the item itself excluded).

        Ordered by cosine x n / (n + ``support_shrink``), n = the candidate's training ratings: a
        vector learned from three ratings is mostly noise, so such titles no longer top the list by
        chance. ``similarity`` is the plain cosine; ``item_mask`` (e.g. a minimum-ratings filter)
        limits the candidates.
        """
        item_idx = self.items.idx(item_id)
        if not self._unit_items[item_idx].any():
            raise DataError(f"item_id {item_id!r} has no ratings in training, so it has no learned vector to compare")
        sims = self._unit_items @ self._unit_items[item_idx]  # (I,)
        counts = self.catalog.counts().astype(np.float64)
        ordered = sims * counts / (counts + max(support_shrink, 0.0))  # (I,)
        allowed = np.ones(self.n_items, dtype=bool) if item_mask is None else item_mask.copy()
        allowed[item_idx] = False
        allowed &= np.abs(self._unit_items).sum(1) > 0
        frame = self._frame(self._best(ordered, allowed, k), None, "similarity")
        frame.insert(4, "similarity", sims[frame["item_idx"].to_numpy()].astype(np.float64))
        return frame

    def nearest_items_idx(self, vector: np.ndarray, candidates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Among ``candidates`` (item indices), the n closest by cosine to ``vector``, and their similarities."""
        unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
        sims = self._unit_items[candidates] @ unit
        order = np.argsort(-sims, kind="stable")[:n]
        return candidates[order], sims[order]

    # -- new users (fold-in) ----------------------------------------------------------------

    def fold_in(self, item_ratings: Sequence[tuple[object, float]], reg: float = 1.0) -> tuple[np.ndarray, float]:
        """A new user's vector and bias from (item_id, rating) pairs, without retraining (see
        ``RatingModel.fold_in``: ridge regression against the fixed item vectors)."""
        if reg < 0:
            raise ConfigError(f"reg must be >= 0; got {reg}")
        item_idx, rating = self._profile(item_ratings)
        return self.rating.fold_in(item_idx, rating, reg)

    def shown_profile(self, item_ratings: Sequence[tuple[object, float]]) -> np.ndarray:
        """(D,) a new user's vector among ``shown_item_vectors`` (for their place on the map)."""
        item_idx, rating = self._profile(item_ratings)
        vec = self.ranker.profile_vector(item_idx, rating) if self.vectors_rank else None
        return vec if vec is not None else self.rating.fold_in(item_idx, rating)[0]

    @property
    def vectors_label(self) -> str:
        """What ``shown_item_vectors`` are, for captions."""
        return "the vectors that rank the lists" if self.vectors_rank else "the rating model's taste vectors"

    def _profile(self, item_ratings: Sequence[tuple[object, float]]) -> tuple[np.ndarray, np.ndarray]:
        """(item_idx, rating) arrays from (item_id, rating) pairs; unknown ids raise UnknownIdError."""
        item_idx = self.items.to_idx([item for item, _ in item_ratings])
        return item_idx, np.array([float(r) for _, r in item_ratings], dtype=np.float64)

    def recommend_new_user(self, item_ratings: Sequence[tuple[object, float]], k: int = 10, reg: float = 1.0,
                           item_mask: np.ndarray | None = None, min_ratings_popular: int = 20) -> pd.DataFrame:
        """Top-k for a user known only by a few (item_id, rating) pairs, without retraining.

        Ordered by the ranking model's score for that profile; stars from the rating model's
        fold-in (``fold_in``). No pairs -> ``popular``.
        """
        if not item_ratings:
            return self.popular(k, min_ratings=min_ratings_popular, item_mask=item_mask)
        item_idx, rating = self._profile(item_ratings)
        vec, bias = self.fold_in(item_ratings, reg)
        stars = self.rating.score_rows(vec[None, :], np.array([bias]))[0]  # (I,) raw
        score = self.ranker.score_profile(item_idx, rating)  # (I,)
        allowed = np.ones(self.n_items, dtype=bool) if item_mask is None else item_mask.copy()
        allowed[item_idx] = False
        best = self._best(score, allowed, k)
        frame = self._frame(best, self.rating.apply_output(stars[best]), "predicted_rating")
        frame["score"] = score[best].astype(np.float64)
        return frame

    def popular(self, k: int = 10, min_ratings: int = 20, item_mask: np.ndarray | None = None) -> pd.DataFrame:
        """Well-rated popular items for someone we know nothing about: highest shrunken mean rating.

        The mean is shrunk toward the global mean by ``min_ratings`` pseudo-ratings, so an item
        rated 5 by two people does not beat one rated 4.5 by three hundred.
        """
        counts = self.catalog.counts()
        sums = np.nan_to_num(self.catalog.frame["mean_rating"].to_numpy()) * counts
        prior = float(self.seen.ratings.mean()) if len(self.seen.ratings) else self.global_bias_
        score = (sums + min_ratings * prior) / (counts + min_ratings)
        allowed = counts > 0 if item_mask is None else item_mask & (counts > 0)
        frame = self._frame(self._best(score, allowed, k), None, "shrunk_mean_rating")
        frame.insert(5, "shrunk_mean_rating", score[frame["item_idx"].to_numpy()])
        return frame

    # -- explanations -----------------------------------------------------------------------

    def explain(self, user_id, item_id) -> dict[str, float]:
        """A prediction split into parts that sum to it: global + user bias + item bias + taste match (+ range limit)."""
        user_idx, item_idx = self.users.idx(user_id), self.items.idx(item_id)
        parts = {name: float(value[0]) for name, value in
                 self.rating.parts(np.array([user_idx]), np.array([item_idx])).items()}
        raw = sum(parts.values())
        prediction = float(self.rating.apply_output(np.array([raw]))[0])
        parts["range limit"] = prediction - raw  # 0 unless the score left the rating range
        parts["prediction"] = prediction
        return parts

    def because_you_liked(self, user_id, item_id, n: int = 3) -> pd.DataFrame:
        """The user's well-rated training items that pushed ``item_id`` up, strongest first, as the ranking
        model says (EASE: its weights toward the pick; the rating model: the nearest in taste space).

        The value comes in a column named by ``ranker.because_measure``; may be empty.
        """
        user_idx, item_idx = self.users.idx(user_id), self.items.idx(item_id)
        lo, hi = self.seen.indptr[user_idx], self.seen.indptr[user_idx + 1]
        items, ratings = self.seen.items[lo:hi].astype(np.int64), self.seen.ratings[lo:hi]
        liked_mask = ratings >= max(np.median(ratings), ratings.mean()) if len(items) else np.zeros(0, bool)
        liked_mask &= items != item_idx  # explaining an item by itself says nothing
        chosen, values = self.ranker.because(items[liked_mask], ratings[liked_mask], item_idx)
        chosen, values = chosen[:n], values[:n]
        frame = self.catalog.rows(chosen)
        frame[self.ranker.because_measure] = np.asarray(values, np.float64)
        frame["their_rating"] = ratings[np.searchsorted(items, chosen)] if len(chosen) else []
        return frame

    def bias_extremes(self, n: int = 10, min_ratings: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The most and least liked items by learned bias: what people rate high or low after
        accounting for how generous each rater is. Items with fewer than ``min_ratings`` are left out."""
        eligible = np.flatnonzero(self.catalog.counts() >= min_ratings)
        order = eligible[np.argsort(-self.item_bias_[eligible], kind="stable")]

        def frame(rows):
            out = self.catalog.rows(rows)
            out.insert(4, "bias", self.item_bias_[rows].astype(np.float64))
            return out
        return frame(order[:n]), frame(order[::-1][:n])

    def user_table(self) -> pd.DataFrame:
        """One row per user index: user_id, n_ratings, mean_rating, bias (for the user map and pickers)."""
        counts = self.seen.counts()
        owner = np.repeat(np.arange(self.n_users), counts)  # (n_seen,) user index of each training rating
        sums = np.bincount(owner, weights=self.seen.ratings, minlength=self.n_users)
        return pd.DataFrame({"user_id": self.users.index.to_numpy(), "n_ratings": counts,
                             "mean_rating": np.where(counts > 0, sums / np.maximum(counts, 1), np.nan),
                             "bias": self.user_bias_.astype(np.float64)})
