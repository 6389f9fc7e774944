"""Training speed in the dashboard (started exactly as the README starts it) against the CLI, and the
Train page's estimate against the measured epoch time.

    python -m bench.dashboard_speed                # both parts
    python -m bench.dashboard_speed --skip-browser  # only the estimate table

Part 1: 3M synthetic ratings, 6 epochs, default settings. The CLI trains them with `python -m
cfcore train`; the dashboard is started by `bash scripts/start.sh` (its ./.venv inside the folder,
the file watcher as configured), opened in headless Chromium with the same data (saved to the
dataset store and opened by its URL), and trained from the Train page. The runs alternate (CLI,
dashboard, CLI, ...) since this machine's speed drifts by up to 2x within minutes. Prints each run's
median per-epoch ratings/s, and each dashboard run against the CLI runs around it (the issue's bar: the dashboard
reaches at least 85% of the CLI).

Part 2: for each case, a fresh process (so the first run after start is what is measured; with the
dashboard's thread count, see app.py) computes the Train page's estimate as the server does, then trains
3 epochs as the dashboard does (in a child of the training helper, ``cfcore.launch.process``); prints estimate,
measured seconds per epoch (wall clock between the epochs' records as they arrive, validation included)
and the error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ui.cores import dashboard_threads

ROOT = Path(__file__).resolve().parents[1]

SYNTH = "builtin:synthetic?n_ratings=3000000&noise=0.5&seed=0"
EPOCHS = 6

ESTIMATE_CASE = """
import json, tempfile, time
from cfcore.config import PRESETS, TrainConfig
from cfcore.data.load import load_dataset
from cfcore.estimate import estimate_resources
from cfcore.split import split
from cfcore.launch.base import Failed, LaunchRequest
from cfcore.launch.process import ProcessLauncher
from cfcore.progress import EpochRecord
dataset = load_dataset({source!r})
parts = split(dataset.ratings, "random", 0.1, 0)
config = PRESETS[{preset!r}].replace(**{changes!r})
started = time.perf_counter()
estimate = estimate_resources(parts.train, parts.val, config).seconds_per_epoch
estimate_took = time.perf_counter() - started
process = ProcessLauncher().launch(LaunchRequest(dataset, parts, config.replace(epochs=3, early_stopping=None)))
marks = []
for message in process.records():
    if message is None:
        continue
    if isinstance(message, Failed):
        raise SystemExit(message.message)
    if not marks or isinstance(message, EpochRecord):  # from the first record (the kernels are loaded by then)
        marks.append(time.perf_counter())
per_epoch = [b - a for a, b in zip(marks, marks[1:])]
print(json.dumps({{"estimate": estimate, "estimate_took": estimate_took, "epochs": per_epoch}}))
"""

CASES = [("built-in sample, defaults", "builtin:movielens", "recommended", {}),
         ("3M synthetic, defaults", SYNTH, "recommended", {}),
         ("built-in sample, dim 128", "builtin:movielens", "recommended", {"embedding_dim": 128}),
         ("built-in sample, seed preset", "builtin:movielens", "seed", {})]


def estimates() -> None:
    print("\n| case | estimate s/epoch | measured s/epoch (mean of 3) | error | estimate took |")
    print("|---|---|---|---|---|")
    for name, source, preset, changes in CASES:
        code = ESTIMATE_CASE.format(source=source, preset=preset, changes=changes)
        env = {**os.environ, "NUMBA_NUM_THREADS": str(dashboard_threads())}  # as app.py sets it for the server
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                             env=env)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        measured = statistics.mean(result["epochs"])
        error = result["estimate"] / measured - 1
        print(f"| {name} | {result['estimate']:.2f} | {measured:.2f} ({', '.join(f'{e:.2f}' for e in result['epochs'])})"
              f" | {error:+.0%} | {result['estimate_took']:.1f} s |", flush=True)


def cli_rate(tmp: Path) -> float:
    subprocess.run([sys.executable, "-m", "cfcore", "train", "--data", SYNTH, "--epochs", str(EPOCHS),
                    "--early-stopping", str(EPOCHS), "--quiet", "--metrics-json", str(tmp / "cli.json")],
                   check=True, cwd=ROOT)
    epochs = json.loads((tmp / "cli.json").read_text())["epochs"]
    print("CLI epochs (ratings/s):", ", ".join(f"{e['ratings_per_second'] / 1e6:.2f}M" for e in epochs))
    return statistics.median(e["ratings_per_second"] for e in epochs)


def dashboard_rate(tmp: Path) -> float:
    from playwright.sync_api import expect, sync_playwright

    from cfcore.data.load import load_dataset
    from cfcore.datastore import save_dataset
    from tests.browser_support import CHROMIUM, LAUNCH_ARGS, free_port, stop_server, wait_healthy, wait_idle

    runs = tmp / "runs"
    saved = save_dataset(runs, load_dataset(SYNTH))
    port = free_port()
    env = {**os.environ, "CF_STUDIO_PORT": str(port), "CF_STUDIO_RUNS_DIR": str(runs)}
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen(["bash", "scripts/start.sh"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, 300, tmp / "server.log")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/?data={saved.content_hash[:16]}")
            wait_idle(page)
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Train").click()
            wait_idle(page)
            expect(page.get_by_text("Expected:")).to_be_visible(timeout=120_000)
            for label, value in (("Epochs", EPOCHS), ("Early-stopping patience (epochs)", EPOCHS)):
                if label.startswith("Early"):
                    page.get_by_text("Advanced").click()
                page.get_by_label(label, exact=True).fill(str(value))
                page.get_by_label(label, exact=True).press("Enter")
                wait_idle(page)
            expect(page.get_by_text("Expected:")).to_be_visible(timeout=120_000)
            before, started = page_cpu_seconds(server.pid), time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.get_by_text("Saved as run")).to_be_visible(timeout=600_000)
            after, took = page_cpu_seconds(server.pid), time.perf_counter() - started
            browser.close()
    finally:
        stop_server(server)
    run = next(p for p in runs.iterdir() if not p.name.startswith("."))
    history = json.loads((run / "run.json").read_text())["history"]
    print("dashboard epochs (ratings/s):", ", ".join(f"{h['ratings_per_second'] / 1e6:.2f}M" for h in history))
    print(f"while it trained ({took:.0f} s, click to 'Saved as run'): the server used "
          f"{after['server'] - before['server']:.1f} CPU-s, the browser {after['browser'] - before['browser']:.1f} CPU-s")
    return statistics.median(h["ratings_per_second"] for h in history)


def page_cpu_seconds(server_group: int) -> dict[str, float]:
    """CPU seconds used so far by the dashboard's server (its process group, less the training helper and
    its children) and by headless Chromium: what the page costs while a run trains beside it."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "browser": 0.0}
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # not a process, or it ended meanwhile
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        if "cfcore.launch.process" in cmdline:
            continue
        if int(fields[2]) == server_group:
            used["server"] += seconds
        elif "chrom" in cmdline:
            used["browser"] += seconds
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--rounds", type=int, default=4,
                        help="dashboard runs, each between two CLI runs (this machine's speed drifts)")
    parser.add_argument("--skip-estimates", action="store_true", help="only the dashboard-vs-CLI rates")
    args = parser.parse_args()
    if not args.skip_browser:
        cli, dash = [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                if not cli:
                    cli.append(cli_rate(Path(tmp)))
                dash.append(dashboard_rate(Path(tmp)))
                cli.append(cli_rate(Path(tmp)))
        # each dashboard run against the mean of the CLI runs just before and just after it: the pairing
        # cancels most of the drift that the medians of the two paths alone would keep
        paired = [d / ((before + after) / 2) for d, before, after in zip(dash, cli, cli[1:])]
        print(f"\n3M synthetic ratings, {EPOCHS} epochs, defaults; median per-epoch ratings/s of each run, "
              f"CLI and dashboard runs alternating:")
        print("| path | runs (median ratings/s) | median |\n|---|---|---|")
        print(f"| CLI (`python -m cfcore train`) | {', '.join(f'{r / 1e6:.2f}M' for r in cli)} | "
              f"{statistics.median(cli) / 1e6:.2f}M |")
        print(f"| dashboard (`bash scripts/start.sh`, headless Chromium) | {', '.join(f'{r / 1e6:.2f}M' for r in dash)}"
              f" | {statistics.median(dash) / 1e6:.2f}M |")
        print(f"each dashboard run / the mean of the CLI runs around it: {', '.join(f'{r:.0%}' for r in paired)}; "
              f"median **{statistics.median(paired):.0%}** (the issue's bar: 85%)", flush=True)
    if not args.skip_estimates:
        estimates()


if __name__ == "__main__":
    main()
