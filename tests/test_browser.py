"""The dashboard in a real headless Chromium, started the way the README starts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from browser_support import CHROMIUM, LAUNCH_ARGS, ROOT, screenshot, streamlit_server, wait_idle


@pytest.fixture(scope="module")
def browser():
    # a missing Chromium must fail here, not skip: CI would otherwise pass without browser tests
    assert Path(CHROMIUM).exists(), "chromium is not installed; scripts/test.sh installs it"
    (ROOT / "artifacts").mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def test_app_opens_on_the_builtin_movielens_sample(browser):
    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        wait_idle(page)
        values = page.locator('[data-testid="stMetricValue"]')
        expect(values.first).to_have_text("100,004", timeout=60_000)
        expect(page.get_by_text("GroupLens", exact=False).first).to_be_visible()
        page.wait_for_function(  # the table is drawn on a canvas once it has its full width
            "() => (document.querySelector('[data-testid=\"stDataFrame\"]')?.getBoundingClientRect().width || 0) > 600")
        page.wait_for_timeout(1000)
        screenshot(page, "data-page")
        page.close()
