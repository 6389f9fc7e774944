"""The Recommend and Runs tables at presenter width (1000 px) in a real headless Chromium: the columns a person
compares are on screen without scrolling the grid sideways."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from playwright.sync_api import expect

from cfcore import jsonio
from cfcore.config import TrainConfig
from cfcore.experiment import fit
from cfcore.runs import read_run, save_run, set_run_label
from cfcore.split import SplitSettings
from tests.browser_support import screenshot, streamlit_server, wait_idle
from ui.data import builtin_dataset

PRESENTER = {"width": 1000, "height": 900}

# st.dataframe draws on a canvas (glide-data-grid); beside it glide keeps an accessibility table whose header row
# lists the columns that reach into the visible part of the grid, frozen (pinned) ones first. A column is whole on
# screen when the next one also reaches in (it starts before the grid's right edge), or when it is the last and
# the grid does not scroll sideways.
VISIBLE = """(grid) => {
  const heads = [...grid.querySelectorAll('table[role="grid"] thead th')].map(th => th.textContent.trim());
  const scroller = grid.querySelector('.dvn-scroller');
  return {heads, scrolls: scroller.scrollWidth > scroller.clientWidth + 1,
          count: Number(grid.querySelector('table[role="grid"]').getAttribute('aria-colcount'))};
}"""


# the text each selectbox shows (its label and its chosen option)
SELECTED = """() => [...document.querySelectorAll('[data-testid="stSelectbox"]')].map(
  box => box.innerText + ' ' + [...box.querySelectorAll('input')].map(i => i.value).join(' ')).join(' | ')"""


def copy_run(runs: Path, run_id: str, new_id: str, dataset: str, lr: float) -> None:
    """Another run folder with ``run_id``'s model, saying ``dataset`` and learning rate ``lr``, created earlier."""
    shutil.copytree(runs / run_id, runs / new_id)
    record = read_run(runs / new_id).record
    record = replace(record, dataset=replace(record.dataset, name=dataset), created=record.created - 1000,
                     config=record.config.replace(learning_rate=lr), name="")
    (runs / new_id / "label.json").unlink(missing_ok=True)
    (runs / new_id / "run.json").write_text(jsonio.dumps({"run_id": new_id, **record.to_dict()}))



def whole_columns(grid) -> list[str]:
    """The header texts of the columns entirely on screen in ``grid`` (an stDataFrame locator), left to right."""
    seen = grid.evaluate(VISIBLE)
    heads = seen["heads"]
    return heads if not seen["scrolls"] else heads[:-1]


def grid(page, n: int):
    """The ``n``-th table on the page (st.dataframe), from the top."""
    return page.locator('[data-testid="stDataFrame"]').nth(n)


def test_the_compared_columns_fit_a_1000_px_window(browser, tmp_path):
    runs = tmp_path / "runs"
    rec = fit(builtin_dataset(), TrainConfig(embedding_dim=8, epochs=1), split=SplitSettings("random", 0.1, 0))
    run_id = save_run(runs, rec).run_id
    set_run_label(runs, run_id, "presenter's pick", "dim 8, one epoch: quick")
    copy_run(runs, run_id, "20000101-000001-aaaaaa", "MovieLens sample", 0.001)  # older: listed below it
    copy_run(runs, run_id, "20000101-000002-bbbbbb", "other data", 0.01)
    copy_run(runs, run_id, "20000101-000002-bbbbbc", "other data", 0.003)
    with streamlit_server(env={"CF_STUDIO_RUNS_DIR": str(runs)}) as url:
        page = browser.new_page(viewport=PRESENTER)
        page.goto(f"{url}/recommend?run={run_id}")  # a shared link: the run is the active model
        wait_idle(page)
        recs = grid(page, 1)  # beside the favourites
        expect(recs).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)  # the grid's first layout
        assert whole_columns(recs)[:2] == ["title", "stars"], recs.evaluate(VISIBLE)
        favourites = grid(page, 0)
        assert whole_columns(favourites)[:2] == ["title", "rating"], favourites.evaluate(VISIBLE)
        screenshot(page, "tables-recommend-1000px")

        page.locator('[data-testid="stSidebarNavLink"]', has_text="Runs").click()
        wait_idle(page)
        table = grid(page, 0)
        expect(table).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)
        whole = whole_columns(table)
        for column in ("name", "verdict", "val RMSE", "NDCG@10"):
            assert column in whole, table.evaluate(VISIBLE)
        expect(table.locator("td").first).to_have_text("presenter's pick")
        screenshot(page, "tables-runs-1000px")

        # the parallel coordinates' selector says as many runs as the chart draws, also after a new run
        expect(page.get_by_text("2 runs on MovieLens sample")).to_be_visible()
        assert "MovieLens sample (2 runs)" in page.evaluate(SELECTED)
        copy_run(runs, run_id, "20000101-000003-cccccc", "MovieLens sample", 0.02)
        page.locator("h1").click()
        page.keyboard.press("r")  # rerun, as any widget change would
        expect(page.get_by_text("3 runs on MovieLens sample")).to_be_visible(timeout=30_000)
        wait_idle(page)
        assert "MovieLens sample (3 runs)" in page.evaluate(SELECTED)
        page.set_viewport_size({"width": 1400, "height": 900})  # a laptop: to look at, not measured
        page.wait_for_timeout(1000)
        screenshot(page, "tables-runs-1400px")
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Recommend").click()
        wait_idle(page)
        expect(grid(page, 1)).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1000)
        screenshot(page, "tables-recommend-1400px")
        page.close()
