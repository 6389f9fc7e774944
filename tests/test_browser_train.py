"""The Train page in a real headless Chromium after a reload and with a bad run: what a presenter sees."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser_support import screenshot, streamlit_server, wait_idle
from tests.test_browser import go, open_app, start_training, upload_and_use, write_u_data  # noqa: F401
from tests.test_train_result import bad_settings, save_curve
from tests.test_verdict import DEFAULTS, HEAVY_DECAY

VALIDATION_POINTS = """() => {
  for (const gd of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
    const val = gd._fullData ? gd._fullData.find(t => t.name === 'validation RMSE') : null;
    if (val) return val.x.length;
  }
  return 0 }"""


def test_a_reload_after_training_keeps_the_result_and_the_form(browser, tmp_path):  # noqa: F811
    path = tmp_path / "u.data"
    write_u_data(path, 60, 40)
    with streamlit_server(env={"CF_STUDIO_RUNS_DIR": str(tmp_path / "runs")}) as url:
        page = open_app(browser, url)
        upload_and_use(page, path)
        go(page, "Train")
        dim = page.get_by_label("Embedding dimension", exact=True)
        dim.fill("40")
        dim.press("Enter")
        wait_idle(page)
        page.wait_for_function("() => location.search.includes('train_embedding_dim=40')", timeout=10_000)
        start_training(page, 3, wait_running=False)
        expect(page.get_by_text("Saved as run")).to_be_visible(timeout=120_000)
        page.reload()
        wait_idle(page)
        expect(page.get_by_text("Active model:")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Result")).to_be_visible()
        expect(page.get_by_label("Embedding dimension", exact=True)).to_have_value("40")
        page.wait_for_function(f"() => ({VALIDATION_POINTS})() === 3", timeout=30_000)
        page.wait_for_timeout(1500)  # Plotly's first render
        screenshot(page, "train-after-reload")
        page.close()


def test_a_bad_run_is_a_clear_warning_with_the_way_back(browser, tmp_path, saved_model):  # noqa: F811
    good = save_curve(tmp_path, saved_model, DEFAULTS, "defaults")
    bad = save_curve(tmp_path, saved_model, HEAVY_DECAY, "heavy decay", **bad_settings())
    with streamlit_server(env={"CF_STUDIO_RUNS_DIR": str(tmp_path)}) as url:
        page = open_app(browser, f"{url}/train?run={bad}&previous={good}")
        alert = page.get_by_test_id("stAlertContentError")
        expect(alert).to_contain_text("Worse than bias-only: validation RMSE 1.0511 against 0.8952", timeout=30_000)
        expect(alert).to_contain_text("Too much weight decay")
        page.wait_for_timeout(1500)
        screenshot(page, "train-bad-run-warning")
        page.get_by_role("button", name="Make defaults active again").click()
        wait_idle(page)
        expect(page.get_by_text("is the active model again")).to_be_visible()
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        page.wait_for_function(f"() => location.search.includes('run={good}')", timeout=10_000)
        go(page, "Runs")  # the table marks the bad run
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
        page.wait_for_timeout(1000)
        screenshot(page, "runs-verdict-column")
        page.close()
