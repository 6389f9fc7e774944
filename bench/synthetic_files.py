"""Write a synthetic dataset as train and test CSV files, for checking the CLI's --test path.

    python -m bench.synthetic_files --n-ratings 1000000 --noise 0.5 --out /tmp/synth
    python -m cfcore train --data /tmp/synth/train.csv --test /tmp/synth/test.csv

The test file holds 10% of the ratings, drawn at random; its best possible RMSE is the noise sigma.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cfcore.split import random_mask
from cfcore.synthetic import SyntheticSpec, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ratings", type=int, default=1_000_000)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = generate(SyntheticSpec(n_ratings=args.n_ratings, noise=args.noise, seed=args.seed))
    frame = data.dataset.ratings.to_frame().rename(columns={"user_id": "userId", "item_id": "movieId"})
    test = random_mask(len(frame), args.test_fraction, args.seed + 1)
    args.out.mkdir(parents=True, exist_ok=True)
    frame[~test].to_csv(args.out / "train.csv", index=False)
    frame[test].to_csv(args.out / "test.csv", index=False)
    print(f"wrote {int((~test).sum()):,} training and {int(test.sum()):,} test ratings to {args.out} "
          f"(noise sigma {args.noise:g}: the best achievable test RMSE)")


if __name__ == "__main__":
    main()
