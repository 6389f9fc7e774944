"""Is the dashboard responsive while it trains on 10M ratings? Drives the real app in headless Chromium.

    python -m bench.dashboard_10m

Generates the 10M-rating synthetic dataset on the Data page, starts training, samples how often
the live chart redraws, then presses Stop and prints how long training took to stop.
Needs Debian's chromium (scripts/test.sh installs it).
"""

from __future__ import annotations

import tempfile
import time

from playwright.sync_api import expect, sync_playwright

from tests.browser_support import CHROMIUM, LAUNCH_ARGS, screenshot, streamlit_server, wait_idle

# the live chart while training is an SVG image: a redraw with new points gives it a new data URL
POINTS = """() => { const img = document.querySelector('[data-testid="stImage"] img[src^="data:image/svg+xml"]');
                     return img ? img.src.length + ':' + img.src.slice(-64) : '' }"""


def main() -> None:
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as runs:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        with streamlit_server(env={"CF_STUDIO_RUNS_DIR": runs}) as url:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url)
            wait_idle(page)
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Data").click()  # the app opens on Home
            wait_idle(page)
            page.get_by_text("Synthetic (known answer)").click()
            wait_idle(page)
            slider = page.locator('[data-testid="stSlider"]', has_text="Ratings").get_by_role("slider")
            slider.focus()
            for _ in range(6):
                page.keyboard.press("ArrowRight")
            wait_idle(page)
            started = time.perf_counter()
            page.get_by_role("button", name="Generate and use").click()
            expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("10,000,000 ratings", timeout=300_000)
            print(f"generated 10M synthetic ratings in the app: {time.perf_counter() - started:.0f} s")
            page.locator('[data-testid="stSidebarNavLink"]', has_text="Train").click()
            wait_idle(page, timeout=300_000)
            expect(page.get_by_text("Expected:")).to_be_visible(timeout=300_000)
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.get_by_role("button", name="Stop", exact=True)).to_be_enabled(timeout=120_000)
            samples = []
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 20:
                samples.append((time.perf_counter() - t0, page.evaluate(POINTS)))
                page.wait_for_timeout(250)
            changes = [t for (t, n), (_, m) in zip(samples, samples[1:]) if m != n]
            gaps = [b - a for a, b in zip(changes, changes[1:])]
            print(f"live chart: {len(changes)} redraws with new points in 20 s of training"
                  + (f", longest gap {max(gaps):.1f} s" if gaps else ""))
            screenshot(page, "dashboard-10m-training")
            clicked = time.perf_counter()
            page.get_by_role("button", name="Stop", exact=True).click()
            expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text("stopped", timeout=30_000)
            print(f"Stop pressed -> stopped message shown after {time.perf_counter() - clicked:.2f} s")
            screenshot(page, "dashboard-10m-stopped")
        browser.close()


if __name__ == "__main__":
    main()
