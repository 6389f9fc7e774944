"""The choice issue's measurement: two ways to make the knobs train the lists, on three split seeds.

    python -m bench.choice [--seeds 0,1,2] [--data builtin:movielens]

(b) "side by side", what ships: the seed's biased MF for the stars and the tuned model (its own user and item
vectors, a softmax over movies) trained in the same run with the same knobs (``cfstudio train``).
(a) "joint": one set of user and item vectors trained on both losses at once, a stars head
(mean + user bias + item bias + s * u.v) and a choice head (item bias' + t * u.v, the same sampled softmax as
the tuned model), each with its own biases and scale; its epoch kept by NDCG@10 or by RMSE (one set of vectors
has one epoch). Prints NDCG@10, P@10, coverage, validation RMSE and seconds per design and seed, with EASE and
most popular on the same split, then the means.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
import torch

from cfcore.choice import choice_weights
from cfcore.config import TrainConfig
from cfcore.data.load import load_dataset
from cfcore.experiment import fit
from cfcore.metrics import per_user, ranking_metrics
from cfcore.split import SplitSettings


def side_by_side(dataset, seed: int) -> dict:
    started = time.perf_counter()
    model = fit(dataset, TrainConfig(), split=SplitSettings("random", 0.1, seed))
    seconds = time.perf_counter() - started
    r = model.record
    rows = {kind: r.ladder[kind] for kind in r.ladder}
    return {"ndcg": r.ranking.ndcg, "precision": r.ranking.precision, "coverage": r.ranking.coverage,
            "rmse": r.val_rmse, "seconds": seconds, "references": rows}


def joint(dataset, seed: int, config: TrainConfig = TrainConfig(), negatives: int = 1024, choice_weight: float = 1.0,
          keep: str = "ndcg") -> dict:
    """One set of vectors, two heads, both losses (sampled softmax for the choices, MSE for the stars)."""
    parts = SplitSettings("random", 0.1, seed).apply(dataset.ratings)
    train, val = parts.train, parts.val
    torch.manual_seed(config.seed)
    n_users, n_items, dim = train.n_users, train.n_items, config.embedding_dim
    P = torch.nn.Parameter(torch.randn(n_users, dim) * 0.01)
    Q = torch.nn.Parameter(torch.randn(n_items, dim) * 0.01)
    user_bias, item_bias = torch.nn.Parameter(torch.zeros(n_users)), torch.nn.Parameter(torch.zeros(n_items))
    choice_bias = torch.nn.Parameter(torch.zeros(n_items))
    scale_stars, scale_choice = torch.nn.Parameter(torch.ones(())), torch.nn.Parameter(torch.ones(()))
    mean = float(train.rating.mean())
    opt = torch.optim.Adam([P, Q, user_bias, item_bias, choice_bias, scale_stars, scale_choice], lr=config.learning_rate)
    users = torch.as_tensor(train.user_idx)
    items = torch.as_tensor(train.item_idx)
    ratings = torch.as_tensor(train.rating)
    weight = torch.as_tensor(choice_weights(train), dtype=torch.float32)  # the tuned model's weights
    popularity = np.bincount(train.item_idx, minlength=n_items) + 1.0
    draw = torch.as_tensor(popularity / popularity.sum(), dtype=torch.float32)
    rng = np.random.default_rng(config.seed)
    hit = val.rating >= 4.0
    judged = np.unique(val.user_idx[hit])
    relevant = [val.item_idx[hit & (val.user_idx == u)] for u in judged]
    seen = torch.zeros(len(judged), n_items, dtype=torch.bool)
    position = np.full(n_users, -1)
    position[judged] = np.arange(len(judged))
    mine = position[train.user_idx] >= 0
    seen[position[train.user_idx[mine]], train.item_idx[mine]] = True
    best = {"ndcg": -1.0, "rmse": math.inf}
    kept = None
    stale = 0
    started = time.perf_counter()
    for _ in range(config.epochs):
        for rows in torch.split(torch.as_tensor(rng.permutation(len(train))), config.batch_size):
            u, i, r, w = users[rows], items[rows], ratings[rows], weight[rows]
            dot = (P[u] * Q[i]).sum(1)
            stars = mean + user_bias[u] + item_bias[i] + scale_stars * dot
            mse = ((stars - r) ** 2).mean()
            negs = torch.multinomial(draw, negatives, replacement=True)
            positive = choice_bias[i] + scale_choice * dot
            negative = scale_choice * (P[u] @ Q[negs].T) + choice_bias[negs] - torch.log(draw[negs] * negatives)
            negative = negative.masked_fill(negs[None, :] == i[:, None], -torch.inf)
            nll = torch.logsumexp(torch.cat([positive[:, None], negative], 1), 1) - positive
            choice = (w * nll).sum() / w.sum()
            l2 = config.weight_decay * ((P[u] ** 2).sum(1) + (Q[i] ** 2).sum(1)).mean()
            opt.zero_grad()
            (mse + choice_weight * choice + l2).backward()
            opt.step()
        with torch.no_grad():
            vu, vi = torch.as_tensor(val.user_idx), torch.as_tensor(val.item_idx)
            pred = (mean + user_bias[vu] + item_bias[vi] + scale_stars * (P[vu] * Q[vi]).sum(1)).clamp(
                float(train.scale.min), float(train.scale.max))
            rmse = float(torch.sqrt(((pred - torch.as_tensor(val.rating)) ** 2).mean()))
            scores = scale_choice * (P[torch.as_tensor(judged)] @ Q.T) + choice_bias
            scores[seen] = -torch.inf
            top = torch.topk(scores, 10, dim=1).indices.numpy()
            ndcg = float(per_user(top, relevant)[2].mean())
        improved = ndcg > best["ndcg"] if keep == "ndcg" else rmse < best["rmse"]
        if improved:
            best = {"ndcg": ndcg, "rmse": rmse, "top": top}
            stale = 0
        else:
            stale += 1
            if config.early_stopping is not None and stale > config.early_stopping:
                break
        kept = best
    metrics = ranking_metrics(kept["top"], relevant, n_items)
    return {"ndcg": metrics["ndcg"], "precision": metrics["precision"], "coverage": metrics["coverage"],
            "rmse": kept["rmse"], "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--data", default="builtin:movielens")
    parser.add_argument("--skip-joint", action="store_true")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    seeds = [int(s) for s in args.seeds.split(",")]
    designs = {"(b) side by side (ships)": side_by_side}
    if not args.skip_joint:
        designs["(a) joint, epoch by NDCG"] = lambda d, s: joint(d, s, keep="ndcg")
        designs["(a) joint, epoch by RMSE"] = lambda d, s: joint(d, s, keep="rmse")
    print(f"{dataset.name}: seeds {seeds}; relevant = held-out rating >= 4; NDCG@10, P@10 and coverage of the "
          "top-10 lists over every movie the user did not rate in training")
    print("| design | seed | NDCG@10 | P@10 | coverage | val RMSE | seconds |")
    print("|---|---|---|---|---|---|---|")
    means: dict[str, list] = {}
    for name, run in designs.items():
        for seed in seeds:
            m = run(dataset, seed)
            means.setdefault(name, []).append([m["ndcg"], m["precision"], m["coverage"], m["rmse"], m["seconds"]])
            print(f"| {name} | {seed} | {m['ndcg']:.4f} | {m['precision']:.4f} | {m['coverage']:.1%} | "
                  f"{m['rmse']:.4f} | {m['seconds']:.1f} |", flush=True)
            for kind, row in m.get("references", {}).items():
                if kind != "tuned":
                    means.setdefault(kind, []).append([row.ndcg, row.precision, row.coverage, math.nan, math.nan])
                    print(f"| {kind} (same split) | {seed} | {row.ndcg:.4f} | {row.precision:.4f} | "
                          f"{row.coverage:.1%} | | |", flush=True)
    print("\nmeans over the seeds:")
    print("| design | NDCG@10 | P@10 | coverage | val RMSE | seconds |")
    print("|---|---|---|---|---|---|")
    for name, rows in means.items():
        with warnings.catch_warnings():  # a reference has no RMSE or time of its own: nan, printed blank
            warnings.simplefilter("ignore", RuntimeWarning)
            m = np.nanmean(np.array(rows, dtype=float), axis=0)
        rmse = f"{m[3]:.4f}" if np.isfinite(m[3]) else ""
        secs = f"{m[4]:.1f}" if np.isfinite(m[4]) else ""
        print(f"| {name} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.1%} | {rmse} | {secs} |")


if __name__ == "__main__":
    main()
