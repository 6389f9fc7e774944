"""Queries on a fitted model: predictions, top-k, similar items, fold-in for new users, explanations.

The query contract, once:
- Inputs are raw ids (``user_id``, ``item_id``) as in the ratings file; unknown ids raise
  ``UnknownIdError`` except in ``predict``, which predicts them from what is known (biases, mean).
- ``k`` is the number of rows returned (fewer when fewer items qualify); rows are best first.
- Lists are ordered by the ranking model (``ranker``, a kind from ``scorers.py``); the stars shown
  beside each pick always come from the rating model (clipped to the scale), its explanation too.
- ``recommend`` excludes every item the user rated in the dataset the model was trained on (training
  and held-out ratings alike), unless ``exclude_seen=False``; evaluation (``top_k_idx``,
  ``evaluate_ranking``) excludes training ratings only, since held-out ones are what it looks for.
- Results are pandas DataFrames or numpy arrays with the catalogue's title, year and genres;
  never framework tensors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from cfcore.config import TrainConfig
from cfcore.data.dataset import default_catalog
from cfcore.errors import ConfigError, DataError
from cfcore.ids import IdMap
from cfcore.mapframes import MapFrames
from cfcore.metrics import per_user, ranking_metrics
from cfcore.model import BiasedMF
from cfcore.ratings import Ratings, RatingScale
from cfcore.scorers import MFScorer, PopularityScorer, Scorer

CATALOG_COLUMNS = ["item_id", "title", "year", "genres", "n_ratings", "mean_rating"]


class Recommender:
    """A fitted BiasedMF (the stars) and a ranking model (the order), with id maps, catalogue and interactions.

    Learned arrays (numpy, read-only views of the model): ``user_factors_`` (U, D),
    ``item_factors_`` (I, D), ``user_bias_`` (U,), ``item_bias_`` (I,), ``global_bias_``.
    """

    def __init__(self, model: BiasedMF, users: IdMap, items: IdMap, config: TrainConfig, *,
                 catalog: pd.DataFrame, seen_indptr: np.ndarray, seen_items: np.ndarray,
                 seen_ratings: np.ndarray, scale: RatingScale, history: list[dict] | None = None,
                 metrics: dict | None = None, dataset_name: str = "", ranker: Scorer | None = None,
                 heldout_indptr: np.ndarray | None = None, heldout_items: np.ndarray | None = None) -> None:
        if model.n_users != len(users) or model.n_items != len(items):
            raise ConfigError(f"model has {model.n_users} users x {model.n_items} items but the id maps have "
                              f"{len(users)} x {len(items)}")
        self.model = model.eval()
        self.users, self.items, self.config, self.scale = users, items, config, scale
        self.history = history or []
        self.metrics = metrics or {}
        self.dataset_name = dataset_name
        self.seen_indptr, self.seen_items, self.seen_ratings = seen_indptr, seen_items, seen_ratings
        self.user_factors_ = model.user_embeddings.weight.detach().numpy()  # (U, D)
        self.item_factors_ = model.item_embeddings.weight.detach().numpy()  # (I, D)
        self.user_bias_ = model.user_biases.weight.detach().numpy()[:, 0]  # (U,)
        self.item_bias_ = model.item_biases.weight.detach().numpy()[:, 0]  # (I,)
        self.global_bias_ = float(model.global_bias.detach()[0])
        counts = np.bincount(seen_items, minlength=len(items))
        sums = np.bincount(seen_items, weights=seen_ratings, minlength=len(items))
        catalog = catalog.reset_index(drop=True).copy()
        catalog["n_ratings"] = counts
        catalog["mean_rating"] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        self.catalog = catalog[CATALOG_COLUMNS]
        norms = np.linalg.norm(self.item_factors_, axis=1, keepdims=True)
        self._unit_items = self.item_factors_ / np.maximum(norms, 1e-12)  # (I, D), zero rows stay zero
        self.rating_scorer = MFScorer(self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_,
                                      self.global_bias_)
        self.ranker = ranker if ranker is not None else self.rating_scorer
        if heldout_indptr is None:  # held-out ratings unknown (older checkpoints): only training ones
            heldout_indptr, heldout_items = np.zeros(len(users) + 1, np.int64), np.empty(0, np.int32)
        self.heldout_indptr, self.heldout_items = heldout_indptr, heldout_items
        self.map_frames: MapFrames | None = None  # the movie map over training, when the run recorded it
        self.judged_ndcg_: tuple[np.ndarray, np.ndarray] | None = None  # set by ranking_ladder

    @classmethod
    def from_training(cls, model: BiasedMF, train: Ratings, config: TrainConfig, *, catalog=None,
                      history=None, metrics=None, dataset_name: str = "", heldout: Ratings | None = None,
                      ranker: Scorer | None = None) -> Recommender:
        """Build from training ratings; ``heldout`` (validation) ratings are remembered as rated, not as seen."""
        indptr, items, ratings = _by_user(train)
        if catalog is None or len(catalog) != train.n_items:
            catalog = _extend_catalog(catalog, train.items)
        held = _by_user(heldout) if heldout is not None and len(heldout) else (None, None, None)
        return cls(model, train.users, train.items, config, catalog=catalog, seen_indptr=indptr, seen_items=items,
                   seen_ratings=ratings, scale=train.scale, history=history, metrics=metrics,
                   dataset_name=dataset_name, ranker=ranker, heldout_indptr=held[0], heldout_items=held[1])

    def __repr__(self) -> str:
        return (f"Recommender(users={len(self.users)}, items={len(self.items)}, dim={self.model.embedding_dim}, "
                f"val_rmse={self.metrics.get('val_rmse', float('nan')):.4f})")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    # -- predictions ------------------------------------------------------------------------

    def _output(self, score: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model.apply_output(torch.as_tensor(score, dtype=torch.float32)).numpy()

    def predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """(n,) predicted ratings for index pairs; index -1 means unknown (predicted from the rest)."""
        return self._output(self.rating_scorer.score_pairs(np.asarray(user_idx, np.int64),
                                                           np.asarray(item_idx, np.int64)))

    def predict(self, user_ids: Iterable, item_ids: Iterable) -> np.ndarray:
        """Predicted ratings for raw id pairs; ids unseen in training use the mean and known biases."""
        return self.predict_idx(self.users.to_idx(user_ids, missing="ignore"),
                                self.items.to_idx(item_ids, missing="ignore"))

    @property
    def kind(self) -> str:
        """What orders the lists: the ranking model's kind (``mf`` when the rating model does)."""
        return self.ranker.kind

    def scores_for_user(self, user_idx: int) -> np.ndarray:
        """(I,) predicted rating of every item for one user index."""
        return self._output(self.rating_scorer.score_users(np.array([user_idx]))[0])  # (I,)

    # -- top-k ------------------------------------------------------------------------------

    def seen(self, user_idx: int) -> np.ndarray:
        """Item indices the user rated in training."""
        return self.seen_items[self.seen_indptr[user_idx]:self.seen_indptr[user_idx + 1]]

    def rated(self, user_idx: int) -> np.ndarray:
        """Item indices the user rated anywhere in the dataset: training and held-out ratings."""
        held = self.heldout_items[self.heldout_indptr[user_idx]:self.heldout_indptr[user_idx + 1]]
        return np.union1d(self.seen(user_idx), held)

    def user_ratings(self, user_id, k: int | None = None) -> pd.DataFrame:
        """The user's training ratings, highest first, with catalogue columns."""
        user_idx = self.users.idx(user_id)
        lo, hi = self.seen_indptr[user_idx], self.seen_indptr[user_idx + 1]
        items, ratings = self.seen_items[lo:hi], self.seen_ratings[lo:hi]
        order = np.lexsort((-self.catalog["n_ratings"].to_numpy()[items], -ratings))
        frame = self.catalog.iloc[items[order]].reset_index(drop=True)
        frame.insert(len(frame.columns), "rating", ratings[order])
        return frame.head(k) if k else frame

    def recommend(self, user_id, k: int = 10, exclude_seen: bool = True,
                  item_mask: np.ndarray | None = None) -> pd.DataFrame:
        """Top-k items for a known user, ordered by the ranking model, with predicted ratings (stars).

        ``item_mask`` (I,) bool limits the candidates (e.g. a genre filter from ``filter_items``).
        ``exclude_seen`` leaves out everything the user rated, held-out ratings included. The
        ``score`` column is the ranking model's; with the rating model as ranker it is the raw
        (unclipped) prediction, so picks tied at the top of the scale keep a meaningful order.
        """
        user_idx = self.users.idx(user_id)
        score = self.ranker.score_users(np.array([user_idx]))[0]  # (I,)
        allowed = np.ones(self.n_items, dtype=bool) if item_mask is None else item_mask.copy()
        if exclude_seen:
            allowed[self.rated(user_idx)] = False
        best = self._best(score, allowed, k)
        stars = self.predict_idx(np.full(len(best), user_idx), best)
        frame = self._frame(best, stars, "predicted_rating")
        frame["score"] = score[best].astype(np.float64)
        return frame

    def _best(self, score: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
        """Indices of the k highest scores among allowed items, best first (ties: lower index first)."""
        if k < 1:
            raise ConfigError(f"k must be at least 1; got {k}")
        candidates = np.flatnonzero(allowed)
        k = min(k, len(candidates))
        if k == 0:
            return np.empty(0, np.int64)
        part = candidates[np.argpartition(-score[candidates], k - 1)[:k]] if k < len(candidates) else candidates
        return part[np.lexsort((part, -score[part]))]

    def _top_k(self, raw: np.ndarray, allowed: np.ndarray, k: int, column: str) -> pd.DataFrame:
        best = self._best(raw, allowed, k)
        return self._frame(best, self._output(raw[best]), column)

    def _frame(self, item_idx: np.ndarray, values: np.ndarray | None, column: str) -> pd.DataFrame:
        """Catalogue rows for ``item_idx`` with ``values`` as ``column`` (left out when None)."""
        frame = self.catalog.iloc[item_idx].reset_index(drop=True)
        if values is not None:
            frame.insert(4, column, np.asarray(values, np.float64))
        frame.insert(0, "item_idx", item_idx)
        return frame

    def top_k_idx(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True, batch_size: int = 1024,
                  scorer: Scorer | None = None, exclude_heldout: bool = False) -> np.ndarray:
        """(n, k) best item indices for many users at once, by ``scorer`` (default: the ranking model).

        Excludes training ratings (``exclude_seen``), and held-out ones too with ``exclude_heldout``
        (what a person is shown; evaluation must not, since held-out items are what it looks for).
        """
        return self.top_k_scores(user_idx, k, exclude_seen, batch_size, scorer, exclude_heldout)[0]

    def top_k_scores(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True, batch_size: int = 1024,
                     scorer: Scorer | None = None, exclude_heldout: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``top_k_idx`` with the scores: (n, k) item indices and (n, k) float scores, -inf where a
        user has fewer than k candidates left (their index is then meaningless)."""
        scorer = scorer or self.ranker
        k = min(k, self.n_items)
        out = np.empty((len(user_idx), k), dtype=np.int64)
        out_scores = np.empty((len(user_idx), k), dtype=np.float32)
        for start in range(0, len(user_idx), batch_size):
            batch = np.asarray(user_idx[start:start + batch_size])
            scores = torch.as_tensor(scorer.score_users(batch))  # (b, I)
            if exclude_seen or exclude_heldout:
                rows, cols = self._excluded(batch, exclude_seen, exclude_heldout)
                scores[rows, cols] = -torch.inf
            best = torch.topk(scores, k, dim=1)
            out[start:start + len(batch)] = best.indices.numpy()
            out_scores[start:start + len(batch)] = best.values.numpy()
        return out, out_scores

    def _excluded(self, batch: np.ndarray, seen: bool, heldout: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, item indices) to exclude for a batch of users: one gather instead of a loop per user."""
        rows, cols = [], []
        for indptr, items, wanted in ((self.seen_indptr, self.seen_items, seen),
                                      (self.heldout_indptr, self.heldout_items, heldout)):
            if not wanted:
                continue
            lo, hi = indptr[batch], indptr[batch + 1]  # (b,), (b,)
            counts = hi - lo
            rows.append(np.repeat(np.arange(len(batch)), counts))
            cols.append(items[np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())])
        return (torch.as_tensor(np.concatenate(rows), dtype=torch.long),
                torch.as_tensor(np.concatenate(cols), dtype=torch.long))

    def filter_items(self, genre: str | None = None, min_ratings: int = 0,
                     years: tuple[float, float] | None = None) -> np.ndarray:
        """(I,) bool mask of catalogue items passing the filters (unknown years pass a year filter)."""
        mask = self.catalog["n_ratings"].to_numpy() >= min_ratings
        if genre:
            mask &= ("|" + self.catalog["genres"].astype(str) + "|").str.contains(f"|{genre}|", regex=False).to_numpy()
        if years is not None:
            year = self.catalog["year"].to_numpy(np.float64)
            mask &= np.isnan(year) | ((year >= years[0]) & (year <= years[1]))
        return mask

    def genres(self) -> list[str]:
        """Every genre in the catalogue, sorted."""
        found = self.catalog["genres"].astype(str).str.split("|").explode()
        return sorted(g for g in found.unique() if g)

    # -- similar items ----------------------------------------------------------------------

    def similar_items(self, item_id, k: int = 10, item_mask: np.ndarray | None = None,
                      support_shrink: float = 10.0) -> pd.DataFrame:
        """The k items whose embeddings are closest by cosine similarity (the item itself excluded).

        Ordered by cosine x n / (n + ``support_shrink``), n = the candidate's training ratings: a
        vector learned from three ratings is mostly noise, so such titles no longer top the list by
        chance. ``similarity`` is the plain cosine; ``item_mask`` (e.g. a minimum-ratings filter)
        limits the candidates.
        """
        item_idx = self.items.idx(item_id)
        if not self._unit_items[item_idx].any():
            raise DataError(f"item_id {item_id!r} has no ratings in training, so it has no learned vector to compare")
        sims = self._unit_items @ self._unit_items[item_idx]  # (I,)
        counts = self.catalog["n_ratings"].to_numpy(np.float64)
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
        """A new user's vector and bias from (item_id, rating) pairs, without retraining.

        Ridge regression against the fixed item embeddings: minimise
        sum (r - global - item_bias - bias - vec . item_vec)^2 + reg * (|vec|^2 + bias^2).
        """
        if reg < 0:
            raise ConfigError(f"reg must be >= 0; got {reg}")
        item_idx, rating = self._profile(item_ratings)
        return MFScorer(self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_, self.global_bias_,
                        reg).fold_in(item_idx, rating)

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
        stars = self.rating_scorer.score_rows(vec[None, :], np.array([bias]))[0]  # (I,) raw
        ranker = self.ranker if self.ranker is not self.rating_scorer else None
        score = ranker.score_profile(item_idx, rating) if ranker is not None else stars  # (I,)
        allowed = np.ones(self.n_items, dtype=bool) if item_mask is None else item_mask.copy()
        allowed[item_idx] = False
        best = self._best(score, allowed, k)
        frame = self._frame(best, self._output(stars[best]), "predicted_rating")
        frame["score"] = score[best].astype(np.float64)
        return frame

    def popular(self, k: int = 10, min_ratings: int = 20, item_mask: np.ndarray | None = None) -> pd.DataFrame:
        """Well-rated popular items for someone we know nothing about: highest shrunken mean rating.

        The mean is shrunk toward the global mean by ``min_ratings`` pseudo-ratings, so an item
        rated 5 by two people does not beat one rated 4.5 by three hundred.
        """
        counts = self.catalog["n_ratings"].to_numpy()
        sums = np.nan_to_num(self.catalog["mean_rating"].to_numpy()) * counts
        prior = float(self.seen_ratings.mean()) if len(self.seen_ratings) else self.global_bias_
        score = (sums + min_ratings * prior) / (counts + min_ratings)
        allowed = counts > 0 if item_mask is None else item_mask & (counts > 0)
        frame = self._top_k(score - self.global_bias_, allowed, k, "predicted_rating")
        frame["predicted_rating"] = score[frame["item_idx"].to_numpy()]
        return frame.rename(columns={"predicted_rating": "shrunk_mean_rating"})

    # -- explanations -----------------------------------------------------------------------

    def explain(self, user_id, item_id) -> dict[str, float]:
        """A prediction split into parts that sum to it: global + user bias + item bias + taste match (+ range limit)."""
        user_idx, item_idx = self.users.idx(user_id), self.items.idx(item_id)
        parts = {name: float(value[0]) for name, value in
                 self.rating_scorer.parts(np.array([user_idx]), np.array([item_idx])).items()}
        raw = sum(parts.values())
        prediction = float(self._output(np.array([raw]))[0])
        parts["range limit"] = prediction - raw  # 0 unless the score left the rating range
        parts["prediction"] = prediction
        return parts

    def because_you_liked(self, user_id, item_id, n: int = 3) -> pd.DataFrame:
        """The user's well-rated training items that pushed ``item_id`` up, strongest first.

        With a ranking model that can say (EASE), the liked items whose weights toward the pick
        are largest (``weight``); otherwise the liked items closest in embedding space, only those
        with a positive cosine (``similarity``): an unlike item explains nothing. May be empty.
        """
        user_idx, item_idx = self.users.idx(user_id), self.items.idx(item_id)
        lo, hi = self.seen_indptr[user_idx], self.seen_indptr[user_idx + 1]
        items, ratings = self.seen_items[lo:hi].astype(np.int64), self.seen_ratings[lo:hi]
        liked_mask = ratings >= max(np.median(ratings), ratings.mean()) if len(items) else np.zeros(0, bool)
        liked_mask &= items != item_idx  # explaining an item by itself says nothing
        chosen, values = self.ranker.because(items[liked_mask], ratings[liked_mask], item_idx)
        column = "weight"
        if self.ranker is self.rating_scorer:
            chosen, values = self.nearest_items_idx(self.item_factors_[item_idx], items[liked_mask], n)
            chosen, values, column = chosen[values > 0], values[values > 0], "similarity"
        chosen, values = chosen[:n], values[:n]
        frame = self.catalog.iloc[chosen].reset_index(drop=True)
        frame[column] = np.asarray(values, np.float64)
        frame["their_rating"] = ratings[np.searchsorted(items, chosen)] if len(chosen) else []
        return frame

    def bias_extremes(self, n: int = 10, min_ratings: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The most and least liked items by learned bias: what people rate high or low after
        accounting for how generous each rater is. Items with fewer than ``min_ratings`` are left out."""
        eligible = np.flatnonzero(self.catalog["n_ratings"].to_numpy() >= min_ratings)
        order = eligible[np.argsort(-self.item_bias_[eligible], kind="stable")]
        def frame(rows):
            out = self.catalog.iloc[rows].reset_index(drop=True)
            out.insert(4, "bias", self.item_bias_[rows].astype(np.float64))
            return out
        return frame(order[:n]), frame(order[::-1][:n])

    def user_table(self) -> pd.DataFrame:
        """One row per user index: user_id, n_ratings, mean_rating, bias (for the user map and pickers)."""
        counts = np.diff(self.seen_indptr)
        owner = np.repeat(np.arange(self.n_users), counts)  # (n_seen,) user index of each training rating
        sums = np.bincount(owner, weights=self.seen_ratings, minlength=self.n_users)
        return pd.DataFrame({"user_id": self.users.index.to_numpy(), "n_ratings": counts,
                             "mean_rating": np.where(counts > 0, sums / np.maximum(counts, 1), np.nan),
                             "bias": self.user_bias_.astype(np.float64)})

    # -- lookups ----------------------------------------------------------------------------

    def search_titles(self, text: str, limit: int = 20) -> pd.DataFrame:
        """Catalogue rows whose title contains ``text`` (case-insensitive, literal), most rated first."""
        titles = self.catalog["title"].astype(str)
        hits = self.catalog[titles.str.contains(text, case=False, regex=False)]
        return hits.sort_values("n_ratings", ascending=False).head(limit)

    # -- evaluation -------------------------------------------------------------------------

    def evaluate_ranking(self, test: Ratings, k: int = 10, threshold: float = 4.0,
                         max_users: int | None = 5000, seed: int = 0, scorer: Scorer | None = None) -> dict[str, float]:
        """Precision, recall, NDCG at k and coverage on held-out ratings (relevant = rating >= threshold).

        Every item the user did not rate in training is a candidate; users with no relevant
        held-out item are skipped. Above ``max_users`` such users, a seeded sample of that many
        is scored, which keeps this to seconds on ML-25M-sized data.
        """
        _, top, rel_lists = self._ranked(test, k, threshold, max_users, seed, scorer)
        return self._ranking_row(top, rel_lists, k, threshold)

    def _ranking_row(self, top: np.ndarray, rel_lists: list[np.ndarray], k: int, threshold: float) -> dict[str, float]:
        return ranking_metrics(top, rel_lists, self.n_items) | {"k": k, "threshold": threshold}

    def ndcg_by_user(self, test: Ratings, k: int = 10, threshold: float = 4.0, max_users: int | None = 5000,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(users, their NDCG at k) for the users ``evaluate_ranking`` judges, by the ranking model."""
        users, top, rel_lists = self._ranked(test, k, threshold, max_users, seed, None)
        return users, per_user(top, rel_lists)[2]

    def _ranked(self, test: Ratings, k: int, threshold: float, max_users: int | None, seed: int,
                scorer: Scorer | None) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """The judged users (those with a relevant held-out rating, sampled above ``max_users``), their
        (n, k) top-k and each one's relevant held-out items."""
        relevant = test.rating >= threshold
        users = np.unique(test.user_idx[relevant])
        users = users[users < self.n_users]
        if max_users is not None and len(users) > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        if len(users) == 0:
            return users, np.empty((0, k), np.int64), []
        order = np.argsort(test.user_idx[relevant], kind="stable")
        rel_users, rel_items = test.user_idx[relevant][order], test.item_idx[relevant][order]
        bounds = np.searchsorted(rel_users, users), np.searchsorted(rel_users, users, side="right")
        rel_lists = [rel_items[a:b] for a, b in zip(*bounds)]
        return users, self.top_k_idx(users, k, scorer=scorer), rel_lists

    def ladder_scorers(self) -> dict[str, Scorer]:
        """The rankings a run is compared on: most popular, the rating model, and its ranking model."""
        counts = np.bincount(self.seen_items, minlength=self.n_items)
        ladder: dict[str, Scorer] = {"popularity": PopularityScorer(counts), "mf": self.rating_scorer}
        ladder.setdefault(self.ranker.kind, self.ranker)
        return ladder

    def ranking_ladder(self, test: Ratings, k: int = 10, threshold: float = 4.0,
                       max_users: int | None = 5000, seed: int = 0) -> dict[str, dict[str, float]]:
        """``evaluate_ranking`` for each of ``ladder_scorers``, on the same users: kind -> metrics.

        Also keeps ``judged_ndcg_``: (users, their NDCG at k) by the ranking model, so the error by user
        activity (cfcore.buckets) reads them instead of ranking every user a second time.
        """
        ladder = {}
        for kind, scorer in self.ladder_scorers().items():
            users, top, rel_lists = self._ranked(test, k, threshold, max_users, seed, scorer)
            ladder[kind] = self._ranking_row(top, rel_lists, k, threshold)
            if scorer is self.ranker:
                self.judged_ndcg_ = (users, per_user(top, rel_lists)[2])
        return ladder

    def record_ranking(self, test: Ratings, k: int = 10, threshold: float = 4.0) -> dict[str, dict[str, float]]:
        """Evaluate the ladder on ``test`` and keep it in ``metrics`` ("ranking": this model's own row,
        "ranking_ladder": every row), so a saved run carries what its lists are worth."""
        ladder = self.ranking_ladder(test, k, threshold)
        self.metrics["ranking"], self.metrics["ranking_ladder"] = ladder[self.kind], ladder
        return ladder


def _extend_catalog(catalog: pd.DataFrame | None, items: IdMap) -> pd.DataFrame:
    """A catalogue row per item index; items missing from ``catalog`` get their id as title."""
    base = default_catalog(items)
    if catalog is None:
        return base
    meta = catalog.drop_duplicates("item_id").set_index("item_id")
    hit = items.index.isin(meta.index)
    for col in ("title", "year", "genres"):
        base.loc[hit, col] = meta[col].reindex(items.index[hit]).to_numpy()
    return base


def _by_user(ratings: Ratings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr (U+1,), item_idx, rating) of ``ratings`` grouped by user, items ascending within a user."""
    order = np.lexsort((ratings.item_idx, ratings.user_idx))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ratings.user_idx, minlength=ratings.n_users))])
    return (indptr.astype(np.int64), ratings.item_idx[order].astype(np.int32),
            ratings.rating[order].astype(np.float32))
