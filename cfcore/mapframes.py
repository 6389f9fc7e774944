"""The movie map over training: a fixed sample of item vectors snapshotted as it trains, aligned to the
kept model's vectors (orthogonal Procrustes) and projected on its PCA axes, so the frames can be played.

A factorisation is only defined up to a rotation (U R, V R predict the same), so early epochs are
rotated onto the final vectors before projecting; otherwise the cloud would spin for no reason. The
frames also keep the plain projection (no alignment) for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA

from cfcore.errors import CFError

MAX_MOVIES = 2000  # the sample: the most-rated movies, few enough to animate smoothly in a browser
MAX_FRAMES = 60  # snapshots kept; longer runs keep every 2nd, 4th, ... epoch (the last one always)
FIRST_EPOCH_MARKS = (0.25, 0.5, 0.75)  # most of the map forms in epoch 1: snapshotted near its quarters too


@dataclass(frozen=True, eq=False)
class MapFrames:
    """Coordinates of ``item_idx`` at each of ``epochs``, on the kept model's first two PCA axes."""

    item_idx: np.ndarray  # (n,) int64
    epochs: np.ndarray  # (E,) float64, increasing: 0 = before training, 0.25 = a quarter into epoch 1, ...
    aligned: np.ndarray  # (E, n, 2) float32: rotated onto the kept vectors, then projected
    plain: np.ndarray  # (E, n, 2) float32: projected as they were
    explained: np.ndarray  # (2,) variance share of each axis, for the kept vectors

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"item_idx": self.item_idx, "epochs": self.epochs, "aligned": self.aligned, "plain": self.plain,
                "explained": self.explained}

    @classmethod
    def from_arrays(cls, arrays: dict, n_items: int) -> MapFrames:
        """Rebuild from stored arrays, checking shapes and indices (a damaged file raises CFError)."""
        try:
            item_idx = np.asarray(arrays["item_idx"], np.int64)
            epochs = np.asarray(arrays["epochs"], np.float64)
            aligned = np.asarray(arrays["aligned"], np.float32)
            plain = np.asarray(arrays["plain"], np.float32)
            explained = np.asarray(arrays["explained"], np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise CFError(f"the stored training map is damaged ({type(exc).__name__}: {exc})") from None
        shape = (len(epochs), len(item_idx), 2)
        if (item_idx.ndim != 1 or epochs.ndim != 1 or aligned.shape != shape or plain.shape != shape
                or explained.shape != (2,) or (len(item_idx) and (item_idx.min() < 0 or item_idx.max() >= n_items))
                or not (np.isfinite(aligned).all() and np.isfinite(plain).all())):
            raise CFError(f"the stored training map does not fit the model: {len(item_idx)} movies, "
                          f"{len(epochs)} epochs, coordinates {aligned.shape} (expected {shape}) over {n_items} movies")
        return cls(item_idx, epochs, aligned, plain, explained)


def sample_items(item_counts: np.ndarray, n: int = MAX_MOVIES) -> np.ndarray:
    """The (at most) ``n`` most-rated items that have a rating, most-rated first; ties by index."""
    item_counts = np.asarray(item_counts)
    rated = np.flatnonzero(item_counts > 0)
    order = rated[np.lexsort((rated, -item_counts[rated]))]
    return order[:n].astype(np.int64)


class Snapshots:
    """Copies of the sample's item vectors before training, inside the first epoch and after each epoch; at
    most ``MAX_FRAMES`` kept, later epochs thinned evenly (the start and the first epoch's quarters stay)."""

    def __init__(self, item_idx: np.ndarray, max_frames: int = MAX_FRAMES) -> None:
        self.item_idx = np.asarray(item_idx, np.int64)
        self.max_frames = max_frames
        self.stride = 1  # keep every stride-th epoch; doubles whenever the store fills
        self.epochs: list[float] = []
        self.vectors: list[np.ndarray] = []  # each (n, D) float32

    def _thinned_away(self, epoch: float) -> bool:
        return epoch >= 1 and epoch % self.stride != 0

    def capture(self, epoch: float, item_vectors: np.ndarray) -> None:
        """Keep ``item_vectors[item_idx]`` at this point of training (``item_vectors``: (I, D); ``epoch`` 0 is
        before training, fractions are inside the first epoch)."""
        if self.epochs and self._thinned_away(self.epochs[-1]):
            # the last kept epoch was only kept for being the newest: the newer one replaces it
            self.epochs.pop()
            self.vectors.pop()
        self.epochs.append(epoch)
        self.vectors.append(np.array(item_vectors[self.item_idx], dtype=np.float32))  # (n, D), a copy
        if len(self.epochs) > self.max_frames:
            self.stride *= 2
            keep = [i for i, e in enumerate(self.epochs) if not self._thinned_away(e) or i == len(self.epochs) - 1]
            self.epochs = [self.epochs[i] for i in keep]
            self.vectors = [self.vectors[i] for i in keep]

    def frames(self, final_vectors: np.ndarray, last_epoch: float | None = None) -> MapFrames | None:
        """Project every snapshot up to ``last_epoch`` on the PCA axes of ``final_vectors[item_idx]`` (the kept
        model); None when fewer than 3 movies or no snapshot."""
        kept = [(e, v) for e, v in zip(self.epochs, self.vectors) if last_epoch is None or e <= last_epoch]
        if len(self.item_idx) < 3 or not kept:
            return None
        target = np.asarray(final_vectors[self.item_idx], np.float64)  # (n, D)
        pca = PCA(n_components=2, random_state=0).fit(target)
        components = pca.components_  # (2, D)
        # fix each axis' sign (largest loading positive), as cfcore.projection does for the map
        signs = np.sign(components[np.arange(2), np.abs(components).argmax(1)])
        signs[signs == 0] = 1
        components = components * signs[:, None]
        centred_target = target - target.mean(0)
        aligned, plain = [], []
        for _, vectors in kept:
            v = vectors.astype(np.float64)  # (n, D)
            centred = v - v.mean(0)
            rotation, _ = orthogonal_procrustes(centred, centred_target)  # (D, D): centred @ R ~ centred_target
            aligned.append((centred @ rotation) @ components.T)  # (n, 2); centred, like the PCA axes
            plain.append((v - pca.mean_) @ components.T)  # (n, 2)
        return MapFrames(self.item_idx, np.array([e for e, _ in kept], np.float64),
                         np.stack(aligned).astype(np.float32), np.stack(plain).astype(np.float32),
                         pca.explained_variance_ratio_.astype(np.float64))
