"""The map over training on the built-in data: how big it is stored, and how fast it plays in a browser.

    python -m bench.map_animation                 # sizes, then the dashboard in headless Chromium
    python -m bench.map_animation --screenshots   # also saves screenshots of the Embeddings page

Trains the defaults through the experiment path (as the CLI and the dashboard do), keeps the run in a
temporary runs folder, and prints: the frames kept (epochs x movies), their bytes in the checkpoint and
the figure's JSON. Then starts the dashboard, opens the run by its URL, and measures in headless
Chromium the seconds from choosing "Map over training" until the chart with its Play button is on the
screen, and from pressing Play until Plotly draws the first new frame (the issue's bar: within 2 s).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import torch

from cfcore.config import TrainConfig
from cfcore.data.load import load_dataset
from cfcore.experiment import Experiment
from cfcore.figures.maps import training_animation
from cfcore.projection import has_genre
from cfcore.runs import save_run
from cfcore.split import SplitSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", action="store_true", help="save Embeddings-page screenshots too")
    parser.add_argument("--rounds", type=int, default=3, help="browser measurements (each a fresh page)")
    args = parser.parse_args()
    dataset = load_dataset("builtin:movielens")
    settings = SplitSettings()
    parts = settings.apply(dataset.ratings)
    experiment = Experiment(dataset, parts, TrainConfig(), settings)
    started = time.perf_counter()
    list(experiment)
    rec = experiment.finish()
    frames = rec.map_frames
    buffer = io.BytesIO()
    torch.save({k: torch.as_tensor(v) for k, v in frames.to_arrays().items()}, buffer)
    movies = rec.catalog.rows(frames.item_idx)
    built = time.perf_counter()
    fig = training_animation(frames.aligned, frames.epochs.tolist(), movies, has_genre(movies["genres"], "Horror"),
                             "Horror", zoom=True)
    figure_json = fig.to_json()
    build_seconds = time.perf_counter() - built
    print(f"built-in data, default settings: trained and evaluated in {time.perf_counter() - started:.1f} s")
    print("| frames (epochs x movies) | stored in the checkpoint | figure JSON | building the figure |")
    print("|---|---|---|---|")
    print(f"| {len(frames.epochs)} x {len(frames.item_idx):,} | {len(buffer.getvalue()) / 1e6:.2f} MB | "
          f"{len(figure_json) / 1e6:.2f} MB | {build_seconds:.2f} s |", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        info = save_run(Path(tmp), rec)
        browser_timings(Path(tmp), info.run_id, args.rounds, args.screenshots)


def browser_timings(runs: Path, run_id: str, rounds: int, screenshots: bool) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.browser_support import CHROMIUM, LAUNCH_ARGS, screenshot, streamlit_server, wait_idle

    shown, playing = [], []
    with streamlit_server({"CF_STUDIO_RUNS_DIR": str(runs)}) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for round_ in range(rounds):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/embeddings?run={run_id}")
            wait_idle(page)
            expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=60_000)
            wait_idle(page)
            if screenshots and round_ == 0:
                screenshot(page, "embeddings-map-genre")
            clicked = time.perf_counter()
            page.get_by_role("radio", name="Map over training").click()
            play = page.locator(".updatemenu-button", has_text="Play")
            expect(play).to_be_visible(timeout=60_000)
            shown.append(time.perf_counter() - clicked)
            page.evaluate("""() => { window.__firstFrame = null;
                const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
                gd.on('plotly_animatingframe', () => { if (window.__firstFrame === null)
                    window.__firstFrame = performance.now(); }); }""")
            pressed = page.evaluate("() => performance.now()")
            play.click()
            page.wait_for_function("() => window.__firstFrame !== null", timeout=30_000)
            playing.append((page.evaluate("() => window.__firstFrame") - pressed) / 1000)
            if screenshots and round_ == 0:
                page.wait_for_timeout(6000)  # let it play to the end
                screenshot(page, "embeddings-map-over-training")
            page.close()
        browser.close()
    print("\n| in headless Chromium | each round | worst |\n|---|---|---|")
    print(f"| 'Map over training' chosen → chart with Play on screen | {', '.join(f'{s:.2f} s' for s in shown)} | "
          f"{max(shown):.2f} s |")
    print(f"| Play pressed → first new frame drawn | {', '.join(f'{s:.2f} s' for s in playing)} | {max(playing):.2f} s |")


if __name__ == "__main__":
    main()
