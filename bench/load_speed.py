"""Parse time and peak memory of loading an ML-25M-sized ratings CSV (written here from synthetic data).

    python -m bench.load_speed [--rows 25000000] [--path /tmp/cfstudio-25m.csv]

Writes the CSV once (userId,movieId,rating,timestamp as in MovieLens), then times load_dataset on
it in a fresh subprocess and reports seconds and the subprocess's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items = 162_541, 59_047  # ML-25M's counts
    frame = pd.DataFrame({
        "userId": rng.integers(1, n_users + 1, rows),
        "movieId": rng.integers(1, n_items + 1, rows),
        "rating": rng.integers(1, 11, rows) / 2,
        "timestamp": rng.integers(789_652_009, 1_574_327_703, rows),
    })
    frame = frame.sort_values(["userId", "movieId"], kind="stable")  # ML-25M's own order
    frame.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--path", type=Path, default=Path("/tmp/cfstudio-25m.csv"))
    args = parser.parse_args()
    if not args.path.exists():
        started = time.perf_counter()
        write_csv(args.path, args.rows)
        print(f"wrote {args.path} ({args.path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f} s")
    code = ("import time; from cfcore.data.load import load_dataset; t = time.perf_counter(); "
            "d = load_dataset(" + repr(str(args.path)) + "); s = time.perf_counter() - t; "
            "print(f'{len(d.ratings):,} ratings, {d.ratings.n_users:,} users, {d.ratings.n_items:,} items; '"
            "f'{d.report.n_duplicates:,} repeated pairs dropped; parsed and validated in {s:.1f} s')")
    subprocess.run([sys.executable, "-c", code], check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"peak resident memory of the loading process: {peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
