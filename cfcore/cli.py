"""The command-line interface (``cfstudio`` or ``python -m cfcore``): train, recommend, similar, and app
(start the dashboard). Exit 0 on success, 2 on bad input or usage."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from cfcore import checkpoint, dashboard, export, jsonio
from cfcore.config import DEVICES, OPTIMIZERS, OUTPUTS, PRESETS, STOP_ON, TrainConfig
from cfcore.data.dataset import BUILTIN_MOVIELENS
from cfcore.data.load import load_dataset
from cfcore.errors import CFError
from cfcore.experiment import Experiment
from cfcore.export import whole_numbers
from cfcore.launch import registry as launchers
from cfcore.rankers import registry
from cfcore.records import Evaluation, RunRecord
from cfcore.repeats import METRICS, metric_value, summarize
from cfcore.runs import new_run_id, save_run
from cfcore.split import SPLIT_METHODS, SplitSettings, split, with_test_set


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one ``error:`` line and exit 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{message} (see {self.prog} --help)")


class _UsageError(Exception):
    pass


RANKER_FLAG = "ranker:"  # argparse dest prefix of a ranking kind's settings: "ranker:<kind>:<setting>"


def build_parser(prog: str = "cfstudio") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="CF Studio: train and query matrix-factorisation recommenders, or start "
                                            "the dashboard.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a model and report validation (and test) accuracy")
    train.add_argument("--data", default=BUILTIN_MOVIELENS,
                       help="ratings file (or a ZIP archive such as ml-latest-small.zip), builtin:movielens "
                            "(default) or builtin:synthetic?n_ratings=N&noise=S&seed=K")
    train.add_argument("--test", help="a separate test ratings file (same formats); reports test RMSE/MAE")
    train.add_argument("--items", help="item metadata: movies.csv, u.item or movies.dat")
    train.add_argument("--sep", help="field separator when detection fails: tab, comma, semicolon, pipe, '::' or whitespace")
    train.add_argument("--columns", help="user,item,rating[,timestamp] column names (or 0-based positions)")
    train.add_argument("--scale", help="declared rating scale MIN,MAX (e.g. 1,5); ratings outside it are an error")
    train.add_argument("--split", choices=SPLIT_METHODS, default="random", help="how validation is held out (default random)")
    train.add_argument("--val-fraction", type=float, default=0.1, help="share of ratings held out for validation (default 0.1)")
    train.add_argument("--split-seed", type=int, default=0, help="seed of the split (default 0)")
    train.add_argument("--preset", choices=sorted(PRESETS), default="recommended", help="starting hyperparameters")
    train.add_argument("--dim", type=int, dest="embedding_dim", help="embedding dimension")
    train.add_argument("--lr", type=float, dest="learning_rate", help="learning rate")
    train.add_argument("--batch-size", type=int, dest="batch_size")
    train.add_argument("--epochs", type=int)
    train.add_argument("--weight-decay", type=float, dest="weight_decay")
    train.add_argument("--dropout", type=float, help="embedding dropout while training, 0 to 0.9 (default 0: off)")
    train.add_argument("--optimizer", choices=OPTIMIZERS)
    train.add_argument("--grad-clip", type=float, dest="grad_clip")
    train.add_argument("--early-stopping", type=int, dest="early_stopping",
                       help="patience in epochs; 0 stops at the first non-improving epoch")
    train.add_argument("--stop-on", choices=STOP_ON, dest="stop_on",
                       help="with the tuned model: both (default: the stars keep their best-RMSE epoch and the lists "
                            "their best-NDCG@10 epoch, each stopping on its own), rmse or ndcg (both follow one)")
    train.add_argument("--output", choices=OUTPUTS)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", choices=DEVICES)
    kinds = registry.kinds()
    train.add_argument("--ranking-model", choices=list(kinds), dest="ranking_model",
                       help=f"what orders recommendation lists (default {registry.default()}): "
                            + "; ".join(f"{name}: {kind.label}" for name, kind in kinds.items()))
    for name, kind in kinds.items():  # each kind's own settings: --<kind>-<setting>
        for setting in kind.Params.settings():
            train.add_argument(f"--{name}-{setting.name.replace('_', '-')}", dest=f"{RANKER_FLAG}{name}:{setting.name}",
                               type=int if setting.integer else float, metavar=setting.name.upper(),
                               help=f"{setting.help} (default {setting.default:g}; for --ranking-model {name})")
    train.add_argument("--relevance-threshold", type=float, default=4.0,
                       help="ratings at or above this count as relevant in the ranking metrics (default 4.0)")
    train.add_argument("--out", help="where to save the model checkpoint (.pt)")
    train.add_argument("--metrics-json", help="write metrics and the per-epoch history as JSON here")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")
    train.add_argument("--repeat", type=int, metavar="N",
                       help="train N split seeds (--split-seed and the next N-1; nothing else changes), save each "
                            "as a run in --runs-dir, print each run's metrics and then their mean ± sample standard "
                            "deviation (n-1)")
    train.add_argument("--runs-dir", default=os.environ.get("CF_STUDIO_RUNS_DIR", "runs"),
                       help="where --repeat saves its runs, as the dashboard's Runs page lists them "
                            "(default runs, or $CF_STUDIO_RUNS_DIR)")
    train.add_argument("--json", action="store_true",
                       help="with --repeat: print each run's metrics and their mean and std as JSON, nothing else")

    for name, key, what in (("recommend", "--user", "a user's top-k unrated items; or every user's (--all-users)"),
                            ("similar", "--item", "the items most like an item")):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("--model", required=True, help="a checkpoint saved by train --out")
        who = cmd.add_mutually_exclusive_group(required=True)
        who.add_argument(key, dest="id", help="raw id as in the ratings file")
        cmd.add_argument("-k", type=int, default=10, help="rows per user or item (default 10)")
        cmd.add_argument("--json", action="store_true", help="print JSON records instead of a table")
        if name == "recommend":
            who.add_argument("--all-users", action="store_true", help="recommend for every user in the model")
            who.add_argument("--users", help="a file of user ids, one per line, to recommend for")
            cmd.add_argument("--out", help="with --all-users/--users: write user_id,rank,item_id,score[,title] CSV here")

    app = sub.add_parser("app", help="start the dashboard (Streamlit); other --server.* options pass to Streamlit")
    app.add_argument("--address", default=os.environ.get("CF_STUDIO_ADDRESS", "127.0.0.1"),
                     help="address to serve on (default 127.0.0.1, or $CF_STUDIO_ADDRESS)")
    app.add_argument("--port", default=os.environ.get("CF_STUDIO_PORT", "8501"),
                     help="port to serve on (default 8501, or $CF_STUDIO_PORT)")
    app.add_argument("--launcher", choices=list(launchers.LAUNCHERS),
                     help=f"where the dashboard's runs train (default: a process of their own where the platform "
                          f"allows, else a thread; or ${launchers.ENV})")
    return parser


def _app(args: argparse.Namespace, streamlit_args: list[str]) -> int:
    """Replace this process by the Streamlit server running the dashboard (cfcore/dashboard.py finds it)."""
    if args.launcher:  # the server's runs read it (launch.registry.choose), whichever page starts them
        os.environ[launchers.ENV] = args.launcher
    dashboard.run(args.address, args.port, streamlit_args)
    return 0  # not reached: the server replaced this process


def main(argv: list[str] | None = None) -> int:
    prog = "python -m cfcore" if Path(sys.argv[0]).name == "__main__.py" else "cfstudio"
    try:
        parser = build_parser(prog)
        args, extra = parser.parse_known_args(argv)
        if args.command == "app":
            return _app(args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "train":
            return _train(args)
        return _query(args)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; use a smaller --dim or --batch-size, or a smaller dataset", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line for the user; CF_STUDIO_DEBUG=1 shows the traceback
        if os.environ.get("CF_STUDIO_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {exc}); rerun with CF_STUDIO_DEBUG=1 for details "
              "and please report it", file=sys.stderr)
        return 1


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {key: getattr(args, key) for key in ("embedding_dim", "learning_rate", "batch_size", "epochs",
                                                     "weight_decay", "dropout", "optimizer", "grad_clip",
                                                     "early_stopping", "stop_on", "output", "seed", "device",
                                                     "ranking_model")
                 if getattr(args, key, None) is not None}
    config = PRESETS[args.preset].replace(**overrides)
    given = [(*dest.removeprefix(RANKER_FLAG).split(":"), value) for dest, value in vars(args).items()
             if dest.startswith(RANKER_FLAG) and value is not None]  # (kind, setting, value) of each flag given
    other = [f"--{kind}-{name.replace('_', '-')}" for kind, name, _ in given if kind != config.ranking_model]
    if other:
        raise CFError(f"{', '.join(other)} set{'s' if len(other) == 1 else ''} a ranking model the lists are not "
                      f"ordered by ({config.ranking_model}); add --ranking-model {given[0][0]} or leave "
                      f"{'it' if len(other) == 1 else 'them'} out")
    if given:
        params = config.ranking_params.to_dict() | {name: value for _, name, value in given}
        config = config.replace(ranking_params=params)
    return config


def _train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    _check_repeat(args)
    dataset = load_dataset(args.data, sep=args.sep, columns=args.columns, items=args.items, scale=_scale(args.scale))
    say = (lambda *a: None) if args.quiet or args.json else (lambda *a: print(*a, flush=True))
    say(f"data: {dataset.name}: {len(dataset.ratings):,} ratings, {dataset.ratings.n_users:,} users, "
        f"{dataset.ratings.n_items:,} items, scale {dataset.ratings.scale}")
    for line in dataset.report.lines()[3:-1]:
        say(f"  {line}")
    if dataset.credit:
        say(f"  credit: {dataset.credit}")
    if args.repeat is not None:
        return _repeat(args, config, dataset, say)
    parts = split(dataset.ratings, args.split, args.val_fraction, args.split_seed)
    test = None
    if args.test:
        test_set = load_dataset(args.test, sep=args.sep, columns=args.columns)
        parts, test = with_test_set(parts, test_set.ratings)
    train = parts.train
    summary = parts.summary()
    say(f"split: {args.split}, train {summary['train_ratings']:,} / validation {summary['val_ratings']:,} ratings "
        f"({summary['val_users_unseen_in_train']} validation users and {summary['val_items_unseen_in_train']} items "
        "unseen in train)")

    experiment = Experiment(dataset, parts, config, SplitSettings(args.split, args.val_fraction, args.split_seed),
                            test=test, evaluation=Evaluation(10, args.relevance_threshold))
    run = experiment.run
    for note in run.notes:
        say(f"note: {note}")
    say(f"device: {run.device_name}; config: {_short_config(config)}")
    bar = _progress_bar(config, len(train), disable=args.quiet)
    try:
        for record in experiment:
            if record.kind == "step":
                bar.update(record.step - bar.n)
                bar.set_postfix(epoch=record.epoch, loss=f"{record.train_loss:.4f}")
            elif record.kind == "epoch":
                bar.clear()
                say(f"Epoch {record.epoch}: Training Loss: {record.train_loss:.4f}, Validation RMSE: {record.val_rmse:.4f}, "
                    f"MAE: {record.val_mae:.4f}, lr {record.learning_rate:.2g}, {record.seconds:.1f}s, "
                    f"{record.ratings_per_second / 1e3:,.0f}K ratings/s{' *' if record.is_best else ''}")
            elif record.kind == "ranker_epoch":
                bar.clear()
                say(f"  lists, epoch {record.epoch}: choice loss {record.loss:.4f}, NDCG@10 {record.val_ndcg:.4f} "
                    f"({record.users:,} validation users), lr {record.learning_rate:.2g}, {record.seconds:.1f}s"
                    f"{' *' if record.is_best else ''}")
    except KeyboardInterrupt:
        experiment.stop()
        say("interrupted: keeping the best epoch so far")
    finally:
        bar.close()
    end = run.end
    record = experiment.finish()
    if record is None:
        raise CFError(end.message if end else "training stopped before the first epoch finished; nothing to save")
    say(f"stopped: {end.message}" if end.reason != "completed" else f"done: {end.message}")

    base = record.baselines
    if test is not None:
        seen_users = np.bincount(train.user_idx, minlength=train.n_users) > 0
        seen_items = np.bincount(train.item_idx, minlength=train.n_items) > 0
        unseen = ~seen_users[test.user_idx] | ~seen_items[test.item_idx]
        say(f"test: {len(test):,} ratings, {int(unseen.sum()):,} of them with a user or item unseen in training "
            "(predicted from biases and the mean)")
    where = "test" if test is not None else "validation"
    say(f"best epoch {record.best_epoch}: validation RMSE {record.val_rmse:.4f}, MAE {record.val_mae:.4f}")
    if test is not None:
        say(f"test RMSE {record.test_rmse:.4f}, MAE {record.test_mae:.4f}")
    model_rmse = record.test_rmse if test is not None else record.val_rmse
    gain = f" ({100 * (1 - model_rmse / base.bias_rmse):+.1f}% vs bias-only)" if base.bias_rmse > 0 else ""
    say(f"baselines on {where}: global mean RMSE {base.global_mean_rmse:.4f}, bias-only RMSE {base.bias_rmse:.4f}; "
        f"model {model_rmse:.4f}{gain}")
    kind = record.ranking_kind
    say(f"ranking on {where} (k=10, relevant = rating >= {args.relevance_threshold:g}, {record.ranking.users:,} users; "
        f"lists ordered by {registry.label(kind)}, fitted in {record.ranking_seconds:.1f} s):")
    for name, row in record.ladder.items():
        say(f"  {registry.label(name) + (' *' if name == kind else ''):<22} P@10 {row.precision:.4f}  "
            f"R@10 {row.recall:.4f}  NDCG@10 {row.ndcg:.4f}  coverage {row.coverage:.1%}")
    say(f"{where} RMSE by the number of training ratings (held-out ratings in brackets):")
    for side, title in (("users", "of the user: "), ("movies", "of the movie:")):
        say(f"  {title} " + "  ".join(f"{r.bucket} {r.rmse:.3f} ({r.ratings:,})" for r in record.buckets if r.side == side))
    if args.out:
        path = checkpoint.save(experiment.model, args.out)
        say(f"saved model to {path}")
    if args.metrics_json:
        write_metrics_json(Path(args.metrics_json), record, args.data, summary)
    return 0


def _check_repeat(args: argparse.Namespace) -> None:
    """--repeat's companions: N of at least 1, its runs saved in --runs-dir (not --out), --json only with it."""
    if args.repeat is None:
        if args.json:
            raise CFError("--json goes with --repeat (train --metrics-json FILE writes one run's metrics as JSON)")
        return
    if args.repeat < 1:
        raise CFError(f"--repeat needs 1 or more split seeds; got {args.repeat}")
    if args.out or args.metrics_json:
        raise CFError("--repeat saves every run in --runs-dir; leave out --out and --metrics-json")


def _repeat(args: argparse.Namespace, config: TrainConfig, dataset, say) -> int:
    """--repeat N: the same settings on split seeds --split-seed .. +N-1, each saved as a run of one group (the
    first run's id), each run's metrics printed, then mean ± sample std (n-1) per metric."""
    seeds = [args.split_seed + i for i in range(args.repeat)]
    group = new_run_id()  # the first run's id: the dashboard lists the runs as one group under it
    say(f"repeat: split seeds {', '.join(map(str, seeds))}; only the split seed changes; runs saved in "
        f"{args.runs_dir}")
    runs: list[tuple[int, str, RunRecord]] = []
    for i, seed in enumerate(seeds):
        settings = SplitSettings(args.split, args.val_fraction, seed)
        parts = settings.apply(dataset.ratings)
        test = None
        if args.test:
            parts, test = with_test_set(parts, load_dataset(args.test, sep=args.sep, columns=args.columns).ratings)
        experiment = Experiment(dataset, parts, config, settings, test=test,
                                evaluation=Evaluation(10, args.relevance_threshold))
        for _ in experiment:
            pass
        record = experiment.finish()
        if record is None:
            end = experiment.run.end
            raise CFError(f"split seed {seed}: {end.message if end else 'no epoch finished'}; nothing saved for it")
        record = dataclasses.replace(record, group=group)
        info = save_run(args.runs_dir, experiment.model.with_record(record), run_id=group if i == 0 else None)
        runs.append((seed, info.run_id, record))
        say(f"split seed {seed}: run {info.run_id}: " + ", ".join(
            f"{label} {_number(metric_value(record, name))}" for name, label in METRICS.items()))
    summary = summarize([record for _, _, record in runs])
    say(f"mean ± std (sample, n-1) over {len(runs)} split seeds:")
    for name, label in METRICS.items():
        say(f"  {label:<9} {summary[name].text(4)}")
    if args.json:
        print(jsonio.dumps({
            "group": group, "split_seeds": seeds, "std_kind": "sample standard deviation (n-1)",
            "runs": [{"run_id": run_id, "split_seed": seed, **{name: metric_value(record, name) for name in METRICS}}
                     for seed, run_id, record in runs],
            "mean": {name: s.mean for name, s in summary.items()}, "std": {name: s.std for name, s in summary.items()},
            "n": len(runs)}, indent=2))
    return 0


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def write_metrics_json(path: Path, record: RunRecord, data: str, split_summary: dict) -> None:
    """``--metrics-json``: the documented keys (add, never rename), read from the run's record."""
    ladder = {kind: asdict(row) for kind, row in record.ladder.items()}
    payload = {"val_rmse": record.val_rmse, "val_mae": record.val_mae, "test_rmse": record.test_rmse,
               "test_mae": record.test_mae, "baseline_global_mean_rmse": record.baselines.global_mean_rmse,
               "baseline_bias_rmse": record.baselines.bias_rmse, "best_epoch": record.best_epoch,
               "stop_reason": record.stop_reason,
               "epochs": [{k: getattr(e, k) for k in ("epoch", "train_loss", "val_rmse", "val_mae", "seconds",
                                                        "ratings_per_second")} for e in record.epochs],
               "train_ratings_per_second": record.ratings_per_second, "device": record.where.device,
               "config": record.config.to_dict(), "data": data, "split": split_summary,
               "ranking_model": record.ranking_kind, "ranking": ladder.get(record.ranking_kind),
               "ranking_ladder": ladder, "error_by_bucket": [asdict(b) for b in record.buckets],
               "ranking_params": record.config.ranking_params.to_dict(), "ranking_seconds": record.ranking_seconds,
               "host": record.where.host, "dataset_hash": record.dataset.content_hash}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jsonio.dumps(payload, indent=2))


def _scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise CFError(f"--scale must be MIN,MAX such as 1,5; got {text!r}") from None
    if not low < high:
        raise CFError(f"--scale needs MIN < MAX; got {text!r}")
    return low, high


def _short_config(config: TrainConfig) -> str:
    return (f"dim {config.embedding_dim}, lr {config.learning_rate:g}, batch {config.batch_size}, "
            f"epochs {config.epochs}, weight decay {config.weight_decay:g}, {config.optimizer}"
            + (f", dropout {config.dropout:g}" if config.dropout else ""))


def _progress_bar(config: TrainConfig, n: int, disable: bool):
    from tqdm import tqdm

    total = config.epochs * config.steps_per_epoch(n)
    return tqdm(total=total, unit="step", file=sys.stderr, leave=False, disable=disable or None, dynamic_ncols=True)


def _query(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise CFError(f"-k must be at least 1; got {args.k}")
    rec = checkpoint.load(args.model)
    if args.command == "recommend" and (args.all_users or args.users):
        return _recommend_batch(rec, args)
    if args.command == "recommend" and args.out:
        raise CFError("--out writes the lists of --all-users or --users; for one user, leave it out")
    raw_id = args.id  # typed ids are strings; the id maps accept "12" for 12 themselves
    if args.command == "recommend":
        frame = rec.recommend(raw_id, args.k)
        value = "predicted_rating"
    else:
        frame = rec.similar_items(raw_id, args.k)
        value = "similarity"
    frame = frame[["item_id", "title", "year", "genres", value, "n_ratings"]]
    if args.json:
        print(json.dumps(json.loads(whole_numbers(frame).to_json(orient="records")), indent=2))  # 1995, not 1995.0
    else:
        frame = frame.assign(year=frame["year"].map(lambda y: "" if np.isnan(y) else f"{y:.0f}"))
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}", max_colwidth=50))
    return 0


def _recommend_batch(rec, args: argparse.Namespace) -> int:
    """Top-k for many users as user_id,rank,item_id,score[,title]: to --out (CSV), or stdout (--json or CSV)."""
    if args.all_users:
        user_idx = np.arange(rec.n_users)
    else:
        user_idx = rec.users.to_idx(_read_user_ids(args.users))
    header = export.top_k_header(rec)
    chunks = []
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else None
    try:
        if out is not None:
            out.write(",".join(header) + "\n")
        for frame in export.top_k_chunks(rec, user_idx, args.k):
            if out is not None:
                frame.to_csv(out, header=False, index=False, float_format=export.FLOAT_FORMAT)
            else:
                chunks.append(frame)
    finally:
        if out is not None:
            out.close()
    if out is None:
        frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=header)
        if args.json:
            print(json.dumps(json.loads(frame.to_json(orient="records")), indent=2))
        else:
            print(frame.to_csv(index=False, float_format=export.FLOAT_FORMAT), end="")
    return 0


def _read_user_ids(path: str) -> list[str]:
    """User ids from a file, one per line (blank lines and a 'user_id' header skipped)."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines()]
    ids = [line for line in lines if line and line.lower() not in ("user_id", "userid", "user")]
    if not ids:
        raise CFError(f"{path} lists no user ids; put one raw user id per line")
    return ids
