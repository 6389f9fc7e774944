"""Would training in a process of its own reach the CLI's speed with the dashboard open? A probe.

    python -m bench.process_probe --rounds 3

The dashboard trains in a thread of the server with one compiled-step thread (bench/dashboard_speed.py:
a median of 78% of the CLI on 2 cores, against the issue's 85%). This probe measures what a separate
training process with every core would meet: the CLI trains 3M synthetic ratings for 6 epochs (default
settings, all cores) alone, then while headless Chromium shows a Streamlit page that redraws the Train
page's live panel (progress bar + the SVG chart of a growing run) every 2 s, as the Train page does.
Runs alternate; each loaded run is paired with the mean of the alone runs around it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SYNTH = "builtin:synthetic?n_ratings=3000000&noise=0.5&seed=0"
ROOT = Path(__file__).resolve().parents[1]

PANEL_APP = '''
import math, time
import streamlit as st
from cfcore.train import EpochRecord, StepRecord
from ui.livechart import training_svg

st.title("live panel probe")
st.session_state.setdefault("t0", time.time())

def panel():
    n = int((time.time() - st.session_state.t0) * 20) + 2  # 20 step records a second, as a fast run logs
    steps = [StepRecord(i * 10, 1 + i // 400, (i % 400) / 400, 1 / math.sqrt(1 + i), 2e6) for i in range(n)]
    epochs = [EpochRecord(e, 0.8, 0.9, 0.95, 0.7, 0.01, 1.0, 2e6, True, e * 4000) for e in range(1, n // 400 + 1)]
    st.progress(min(1.0, n / 5000), text=f"epoch {1 + n // 400}/10 · 2.00M ratings/s · at most 30 s left")
    st.image(training_svg(steps, epochs, {"global_mean_rmse": 1.06, "bias_rmse": 0.9}, 400, 10), width="stretch")

st.fragment(run_every=2.0)(panel)()
'''


def cli_rate(out: Path) -> float:
    subprocess.run([sys.executable, "-m", "cfcore", "train", "--data", SYNTH, "--epochs", "6", "--early-stopping", "6",
                    "--quiet", "--metrics-json", str(out)], check=True, cwd=ROOT)
    return statistics.median(e["ratings_per_second"] for e in json.loads(out.read_text())["epochs"])


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser_support import CHROMIUM, LAUNCH_ARGS, free_port, stop_server, wait_healthy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "panel.py"
        app.write_text(PANEL_APP)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
                                   "--server.port", str(port), "--server.fileWatcherType", "none"],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
        alone, loaded = [], []
        try:
            wait_healthy(f"http://127.0.0.1:{port}", server, 120)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                alone.append(cli_rate(Path(tmp) / "m.json"))
                for _ in range(args.rounds):
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    page.goto(f"http://127.0.0.1:{port}")
                    page.wait_for_timeout(3000)
                    loaded.append(cli_rate(Path(tmp) / "m.json"))
                    page.close()
                    alone.append(cli_rate(Path(tmp) / "m.json"))
                browser.close()
        finally:
            stop_server(server)
    paired = [d / ((a + b) / 2) for d, a, b in zip(loaded, alone, alone[1:])]
    print("| CLI | runs (median ratings/s per run) |\n|---|---|")
    print(f"| alone | {', '.join(f'{r / 1e6:.2f}M' for r in alone)} |")
    print(f"| with the live panel open in Chromium | {', '.join(f'{r / 1e6:.2f}M' for r in loaded)} |")
    print(f"each loaded run / the alone runs around it: {', '.join(f'{p:.0%}' for p in paired)}; "
          f"median {statistics.median(paired):.0%}")


if __name__ == "__main__":
    main()
