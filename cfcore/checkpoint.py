"""Save and load fitted models as plain data: tensors, numbers, strings; never pickled objects.

A checkpoint loads with ``torch.load(path, weights_only=True)``: the restricted unpickler refuses
anything but tensors and plain containers, so a crafted file cannot run code on load. The model is
rebuilt from its stored arguments (never a hard-coded embedding size).
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cfcore.catalog import Catalog
from cfcore.errors import CFError, CheckpointError
from cfcore.ids import IdMap
from cfcore.mapframes import MapFrames
from cfcore.model import BiasedMF
from cfcore.queries import Interactions, Recommender
from cfcore.rankers import registry
from cfcore.rankers.base import Ranker
from cfcore.rankers.mf import RatingModelRanker
from cfcore.rating_model import RatingModel
from cfcore.ratings import RatingScale
from cfcore.records import RunRecord

FORMAT = "cfstudio-checkpoint"
FORMAT_VERSION = 3  # 3: the run record ("record") replaces config/metrics/history, and every ranking kind
#                     stores its arrays; 2 added the ranking model ("ranker") and held-out ratings; 1, 2 still load
READABLE_VERSIONS = (1, 2, 3)
REQUIRED = ("format", "format_version", "model_args", "state_dict", "user_ids", "item_ids", "scale",
            "catalog", "seen_indptr", "seen_items", "seen_ratings")


def to_dict(rec: Recommender) -> dict:
    """The checkpoint's contents: only tensors, numbers, strings, lists and dicts."""
    if rec.record is None:
        raise CFError("a model without the record of the run that made it cannot be saved (finish its run first)")
    catalog = rec.catalog.frame
    model = BiasedMF.from_rating_model(rec.rating)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_args": model.model_args(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "user_ids": rec.users.to_list(),
        "item_ids": rec.items.to_list(),
        "scale": {"min": rec.scale.min, "max": rec.scale.max, "step": rec.scale.step},
        "catalog": {"title": catalog["title"].astype(str).tolist(),
                    "year": torch.tensor(catalog["year"].to_numpy(np.float64, copy=True)),
                    "genres": catalog["genres"].fillna("").astype(str).tolist()},
        "seen_indptr": torch.tensor(np.array(rec.seen.indptr)),
        "seen_items": torch.tensor(np.array(rec.seen.items)),
        "seen_ratings": torch.tensor(np.array(rec.seen.ratings)),
        "record": rec.record.to_dict(),
        "ranker": {"kind": rec.ranker.kind,
                   "arrays": {k: torch.as_tensor(np.array(v)) for k, v in rec.ranker.to_arrays().items()}},
        "heldout_indptr": torch.tensor(np.array(rec.heldout.indptr)),
        "heldout_items": torch.tensor(np.array(rec.heldout.items)),
        **({"map_frames": {k: torch.as_tensor(np.array(v)) for k, v in rec.map_frames.to_arrays().items()}}
           if rec.map_frames is not None else {}),
    }


def _plain(value):
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def save(rec: Recommender, path: str | Path) -> Path:
    """Write atomically: a crash mid-write leaves the old file (or none), never half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(to_dict(rec), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_bytes(rec: Recommender) -> bytes:
    """The checkpoint as bytes (for a download button)."""
    buffer = io.BytesIO()
    torch.save(to_dict(rec), buffer)
    return buffer.getvalue()


def load(source: str | Path | bytes, label: str | None = None) -> Recommender:
    """Load a checkpoint from a path or bytes; anything that is not one raises CheckpointError."""
    label = label or (str(source) if not isinstance(source, bytes) else "uploaded file")
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"{label}: no such checkpoint file")
        source = path.read_bytes()
    try:
        with warnings.catch_warnings():  # a foreign file (pickle protocol 5, say) is refused below in one
            warnings.simplefilter("ignore")  # message; torch's warning about it would print before that message
            data = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{label} is not a CF Studio checkpoint: it holds Python objects other than plain data, "
            "which are refused unread for safety; save models with CF Studio (python -m cfcore train --out)"
        ) from None
    except Exception:  # not a zip/pickle at all, truncated, or damaged
        raise CheckpointError(
            f"{label} is not a CF Studio checkpoint (not a readable PyTorch file, or cut short); "
            "choose a .pt file saved by CF Studio"
        ) from None
    return from_dict(data, label)


def from_dict(data: object, label: str = "checkpoint") -> Recommender:
    """Rebuild a Recommender from checkpoint contents, checking format, version and shapes."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{label} is a PyTorch file but not a CF Studio checkpoint (no '{FORMAT}' marker)")
    version = data.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{label} has checkpoint format version {version!r}; this CF Studio reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}. Retrain the model with this version"
        )
    missing = [key for key in REQUIRED + (("record",) if version >= 3 else ("config",)) if key not in data]
    if missing:
        raise CheckpointError(f"{label} is missing {', '.join(missing)}; the file is incomplete")
    try:
        args = dict(data["model_args"])
        model = BiasedMF(int(args["n_users"]), int(args["n_items"]), int(args["embedding_dim"]),
                         tuple(args["y_range"]), args.get("output", "clip"))
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        got = {k: tuple(v.shape) for k, v in data["state_dict"].items()}
        if expected != got:
            diff = [f"{k}: expected {expected.get(k)}, found {got.get(k)}" for k in sorted(set(expected) | set(got))
                    if expected.get(k) != got.get(k)]
            raise CheckpointError(f"{label}: weights do not match the stored model size ({'; '.join(diff[:3])})")
        model.load_state_dict(data["state_dict"])
        rating = model.to_rating_model()
        users = IdMap(data["user_ids"], "user")
        items = IdMap(data["item_ids"], "item")
        seen = Interactions(np.asarray(data["seen_indptr"], np.int64), np.asarray(data["seen_items"], np.int32),
                            np.asarray(data["seen_ratings"], np.float32))
        catalog = Catalog.build(pd.DataFrame({"item_id": items.index.to_numpy(), "title": data["catalog"]["title"],
                                              "year": np.asarray(data["catalog"]["year"], dtype=np.float64),
                                              "genres": data["catalog"]["genres"]}),
                                items, seen.items, seen.ratings)
        ranker = _ranker(data.get("ranker"), version, rating, len(users), len(items), label)
        record = _record(data)
        if ranker.kind != record.ranking_kind:
            raise CheckpointError(f"{label}: its lists are ordered by {ranker.kind!r} but its record says "
                                  f"{record.ranking_kind!r}")
        frames = MapFrames.from_arrays(dict(data["map_frames"]), len(items)) if "map_frames" in data else None
        return Recommender(rating, ranker, users, items, catalog, seen=seen, heldout=_heldout(data, len(users), len(items)),
                           scale=RatingScale(**data["scale"]), record=record, map_frames=frames)
    except CFError as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{label}: inconsistent checkpoint ({exc})") from None
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise CheckpointError(f"{label}: damaged checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None


def _record(data: dict) -> RunRecord:
    """The run's record; checkpoints of versions 1-2 kept loose config/metrics/history dicts instead."""
    if data.get("format_version", 0) >= 3:
        return RunRecord.from_dict(dict(data["record"]))
    return RunRecord.from_legacy(dict(data.get("config", {})), dict(data.get("metrics", {})),
                                 list(data.get("history", [])), dataset=str(data.get("dataset_name", "")))


def _ranker(stored: object, version: int, rating: RatingModel, n_users: int, n_items: int, label: str) -> Ranker:
    """The stored ranking model. Versions 1-2 stored nothing (1) or no arrays (2) when the rating model ordered
    the lists: that ranker is rebuilt from the rating model's vectors."""
    if version < 3 and (stored is None or (isinstance(stored, dict) and not stored.get("arrays"))):
        return RatingModelRanker(rating)
    if not isinstance(stored, dict) or stored.get("kind") not in registry.kinds():
        kind = stored.get("kind") if isinstance(stored, dict) else stored
        raise CheckpointError(f"{label}: unknown ranking model kind {kind!r}; this CF Studio knows "
                              f"{', '.join(registry.names())} (a kind of your own: name its folder in "
                              f"${registry.PLUGIN_PATH})")
    arrays = {k: np.asarray(v) for k, v in dict(stored.get("arrays", {})).items()}
    return registry.get(stored["kind"]).from_arrays(arrays, n_users, n_items)


def _heldout(data: dict, n_users: int, n_items: int) -> Interactions:
    """The held-out ratings' items per user (none in files saved before they were kept)."""
    if "heldout_indptr" not in data:
        return Interactions.of(None, n_users)
    indptr = np.asarray(data["heldout_indptr"], np.int64)
    items = np.asarray(data["heldout_items"], np.int32)
    if (indptr.shape != (n_users + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(items)
            or (len(items) and (items.min() < 0 or items.max() >= n_items))):
        raise CheckpointError("held-out ratings do not match the stored users and items")
    return Interactions(indptr, items)
