"""Training speed of three paths on the same synthetic data, with accuracy, in one process.

    python -m bench.train_speed                 # 100K, 1M and 10M ratings
    python -m bench.train_speed --sizes 25M     # ML-25M-sized (166,666 users x 62,500 items)
    python -m bench.train_speed --device cuda   # the same on a GPU

Paths:
  seed loop   the seed document's train_epoch as written: a list of (user, item, rating) tuples,
              torch.tensor([x[0] for x in batch]) per batch, dense Adam (lr 0.001, weight_decay 0.01)
  dense       batches as slices of tensors on the device, dense Adam over every parameter
              (the "exact seed optimizer"), recommended learning rate, weight_decay 1e-4
  default     CF Studio's default: row-wise Adam on the touched rows only (compiled, on every core, on CPU)

Slow paths are timed on a fixed number of steps (--timed-steps) when a full epoch would be long;
their validation RMSE is then left out (use --full to train them for the full epochs). On a shared,
noisy machine use --repeat 3: every path is timed three times, interleaved, and medians are compared.
Speed is reported as ratings/s and seconds per epoch; peak is the process's resident memory.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import torch

from cfcore.config import TrainConfig
from cfcore.data.load import load_dataset
from cfcore.device import describe_device, resolve_device
from cfcore.model import BiasedMF
from cfcore.split import split
from cfcore.synthetic import SyntheticSpec, generate
from cfcore.train import TrainingRun

SIZES = {"100K": (100_000, 1_000, 1_700), "1M": (1_000_000, 6_666, 2_500), "10M": (10_000_000, 66_666, 25_000),
         "25M": (25_000_000, 166_666, 62_500)}


class PeakRSS:
    """Highest resident memory of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self):
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def _watch(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


def seed_loop(train, val, epochs: int, max_steps: int | None, device: torch.device, seed: int = 42):
    """The seed document's loop as written; returns (ratings/s, epoch seconds (measured or projected), val RMSE)."""
    torch.manual_seed(seed)
    model = BiasedMF(train.n_users, train.n_items, 50, (train.scale.min, train.scale.max)).to(device)
    model.init_global_bias(float(train.rating.mean()))
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.01)
    batch_size = 1024
    rows = len(train) if max_steps is None else min(len(train), max_steps * batch_size)
    train_data = list(zip(train.user_idx[:rows].tolist(), train.item_idx[:rows].tolist(), train.rating[:rows].tolist()))
    seconds = 0.0
    for _ in range(epochs if max_steps is None else 1):
        model.train()
        started = time.perf_counter()
        for i in range(0, len(train_data), batch_size):  # ---- the seed's train_epoch, unchanged ----
            batch = train_data[i:i + batch_size]
            users = torch.tensor([x[0] for x in batch]).to(device)
            movies = torch.tensor([x[1] for x in batch]).to(device)
            ratings = torch.tensor([x[2] for x in batch], dtype=torch.float32).to(device)
            optimizer.zero_grad()
            predictions = model(users, movies)
            loss = criterion(predictions, ratings)
            loss.backward()
            optimizer.step()
            loss.item()  # the seed accumulates total_loss += loss.item() every step
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    rate = len(train_data) / seconds
    val_rmse = None
    if max_steps is None:
        with torch.no_grad():
            model.eval()
            pred = model(torch.as_tensor(val.user_idx, device=device), torch.as_tensor(val.item_idx, device=device))
            val_rmse = float(torch.sqrt(torch.mean((pred - torch.as_tensor(val.rating, device=device)) ** 2)))
    return rate, len(train) / rate, val_rmse


def run_path(train, val, config: TrainConfig, epochs: int, max_steps: int | None):
    """A TrainingRun: full epochs (rate, s/epoch, best val RMSE) or, when time-boxed, timed steps only."""
    run = TrainingRun(train, val, config.replace(epochs=epochs))
    if max_steps is not None:
        seconds_per_step = run.time_steps(max_steps)
        rate = run.batch_size / seconds_per_step
        return rate, len(train) / rate, None
    epochs_seen = [r for r in run if r.kind == "epoch"]
    rates = [e.ratings_per_second for e in epochs_seen]
    rate = float(np.median(rates))
    return rate, float(np.median([e.seconds for e in epochs_seen])), run.best_val_rmse


PATHS = ("seed loop", "dense", "default")


def measure(path: str, parts, n_users: int, n_items: int, args, device: torch.device):
    """One timing of one path: (ratings/s, s/epoch, val RMSE or None, timed steps or None, peak bytes)."""
    guess = {"seed loop": 60_000, "dense": 1e9 / (n_users + n_items) if device.type == "cpu" else 2e6,
             "default": 1e6}[path]
    slow = not args.full and args.epochs * len(parts.train) / guess > args.slow_limit
    steps = args.timed_steps if slow else None
    with PeakRSS() as mem:
        if path == "seed loop":
            rate, epoch_s, rmse = seed_loop(parts.train, parts.val, args.epochs, steps, device)
        elif path == "dense":
            config = TrainConfig(optimizer="adam", weight_decay=1e-4, early_stopping=None, device=args.device)
            rate, epoch_s, rmse = run_path(parts.train, parts.val, config, args.epochs, steps)
        else:
            config = TrainConfig(early_stopping=None, device=args.device)
            rate, epoch_s, rmse = run_path(parts.train, parts.val, config, args.epochs, steps)
    return rate, epoch_s, rmse, steps, mem.peak


def fmt_rate(rate: float) -> str:
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.0f}K"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100K,1M,10M", help="comma-separated: 100K, 1M, 10M, 25M")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per path for the accuracy column")
    parser.add_argument("--timed-steps", type=int, default=300, help="steps timed when a path's epochs would be slow")
    parser.add_argument("--slow-limit", type=float, default=120.0,
                        help="time-box a path when its projected training would exceed this many seconds")
    parser.add_argument("--full", action="store_true", help="never time-box: train every path for --epochs")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time every path this many times, interleaved; report medians (and the range)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-builtin", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device: {describe_device(device)}; torch {torch.__version__}; batch 1024, dim 50; "
          f"{args.epochs} epochs for accuracy")

    if not args.skip_builtin:
        data = load_dataset("builtin:movielens")
        parts = split(data.ratings, "random", 0.1, 0)
        fixed = dict(epochs=10, early_stopping=None, device=args.device)
        default_run = TrainingRun(parts.train, parts.val, TrainConfig(**fixed))
        list(default_run)
        dense_run = TrainingRun(parts.train, parts.val, TrainConfig(optimizer="adam", weight_decay=1e-4, **fixed))
        list(dense_run)
        print(f"\nbuilt-in MovieLens, random 90/10, 10 epochs each (best epoch): default {default_run.best_val_rmse:.4f} "
              f"(epoch {default_run.best_epoch}), dense Adam {dense_run.best_val_rmse:.4f} (epoch {dense_run.best_epoch}); "
              f"difference {default_run.best_val_rmse - dense_run.best_val_rmse:+.4f}")

    header = (f"\n{'size':>5} {'users x items':>17} {'path':>9} {'ratings/s':>10} {'s/epoch':>9} {'peak MiB':>9} "
              f"{'val RMSE':>9} {'vs dense':>9} {'vs seed':>8}" + ("  range of ratings/s" if args.repeat > 1 else ""))
    print(header)
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        n, n_users, n_items = SIZES[size]
        started = time.perf_counter()
        synth = generate(SyntheticSpec(n_ratings=n, n_users=n_users, n_items=n_items, noise=0.5, seed=0))
        parts = split(synth.dataset.ratings, "random", 0.1, 0)
        del synth
        gen_seconds = time.perf_counter() - started
        measured = {path: [] for path in PATHS}  # path -> [(rate, s/epoch, val RMSE, steps, peak bytes)]
        for _ in range(args.repeat):  # paths interleaved, so a slow spell of the machine hits them alike
            for path in PATHS:
                measured[path].append(measure(path, parts, n_users, n_items, args, device))
        rates = {path: float(np.median([m[0] for m in runs])) for path, runs in measured.items()}
        for path, runs in measured.items():
            rate = rates[path]
            epoch_s = float(np.median([m[1] for m in runs]))
            rmse, steps = runs[0][2], runs[0][3]
            peak = max(m[4] for m in runs)
            ratio_dense = f"{rate / rates['dense']:.1f}x" if path != "seed loop" else ""
            ratio_seed = f"{rate / rates['seed loop']:.1f}x"
            rmse_text = f"{rmse:.4f}" if rmse is not None else f"({steps} steps)"
            spread = (f"  {fmt_rate(min(m[0] for m in runs))}-{fmt_rate(max(m[0] for m in runs))}"
                      if args.repeat > 1 else "")
            print(f"{size:>5} {f'{n_users:,} x {n_items:,}':>17} {path:>9} {fmt_rate(rate):>10} {epoch_s:9.1f} "
                  f"{peak / 2**20:9.0f} {rmse_text:>9} {ratio_dense:>9} {ratio_seed:>8}{spread}", flush=True)
        print(f"{'':>5} (data generated and split in {gen_seconds:.0f} s; noise sigma 0.5 is the best possible RMSE)")


if __name__ == "__main__":
    main()
