"""The Recommend and Runs tables at presenter width (1000 px) in a real headless Chromium: the columns a person
compares are on screen without scrolling the grid sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from cfcore.config import TrainConfig
from cfcore.experiment import fit
from cfcore.runs import save_run, set_run_label
from cfcore.split import SplitSettings
from tests.browser_support import CHROMIUM, LAUNCH_ARGS, ROOT, screenshot, streamlit_server, wait_idle
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


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "chromium is not installed; scripts/test.sh installs it"
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


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
        for column in ("name", "val RMSE", "NDCG@10"):
            assert column in whole, table.evaluate(VISIBLE)
        expect(table.locator("td").first).to_have_text("presenter's pick")
        screenshot(page, "tables-runs-1000px")
        page.close()
