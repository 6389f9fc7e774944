"""Browser checks of the maps: highlighted points really drawn above the cloud, and a box selection as CSV."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser_support import screenshot, streamlit_server, wait_idle
from tests.test_browser import PLOT_AREA, go, open_app, start_training

ACCENT = (0xE4, 0x57, 0x2E)

# the screen position of the first point of the chart's trace named ``name`` (in the chart holding one)
POINT = """(name) => {
  for (const gd of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
    const trace = (gd._fullData || []).find(t => t.name === name);
    if (!trace) continue;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.l2p(trace.x[0]), y: box.top + ya._offset + ya.l2p(trace.y[0]),
            types: gd._fullData.map(t => t.type), names: gd._fullData.map(t => t.name)};
  }
  return null;
}"""



def pixel(page, x: float, y: float) -> tuple[int, int, int]:
    """The colour on screen at (x, y), read back from a 1-pixel screenshot."""
    from io import BytesIO

    from PIL import Image

    png = page.screenshot(clip={"x": int(x), "y": int(y), "width": 1, "height": 1})
    return Image.open(BytesIO(png)).convert("RGB").getpixel((0, 0))


def close(colour: tuple[int, int, int], wanted: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, wanted))


def test_highlighted_points_show_above_the_cloud_and_a_box_selection_downloads(browser, tmp_path):
    with streamlit_server(env={"CF_STUDIO_RUNS_DIR": str(tmp_path / "runs")}) as url:
        page = open_app(browser, url)
        go(page, "Train")
        expect(page.get_by_text("Parameters:")).to_be_visible(timeout=60_000)
        start_training(page, 3, wait_running=False)
        expect(page.get_by_text("Saved as run")).to_be_visible(timeout=180_000)

        go(page, "Recommend")
        page.get_by_role("tab", name="New user").click()
        picker = page.locator('[data-testid="stMultiSelect"]').first
        for title in ("Toy Story (1995)", "Matrix, The (1999)", "Titanic (1997)"):
            picker.locator("input").fill(title.split(" (")[0])
            page.get_by_role("option", name=title, exact=True).click()
            page.keyboard.press("Escape")
            wait_idle(page)
        expect(page.get_by_text("Recommended for you (from 3 ratings)")).to_be_visible(timeout=30_000)
        page.locator('[data-testid="stPlotlyChart"]:visible').last.scroll_into_view_if_needed()
        page.wait_for_timeout(2000)  # Plotly's first render
        you = page.evaluate(POINT, "you")
        assert you["types"] == ["scatter"] * 4 and you["names"][-1] == "you"
        assert close(pixel(page, you["x"], you["y"]), (0, 0, 0)), "the black star is covered"
        screenshot(page, "maps-new-user")

        go(page, "Embeddings")
        page.get_by_label("Find a movie on the map (highlights it and its 10 nearest neighbours)").fill("Matrix")
        page.keyboard.press("Enter")
        wait_idle(page)
        expect(page.get_by_text("Nearest neighbours of")).to_be_visible(timeout=30_000)
        page.locator('[data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
        page.wait_for_timeout(2000)
        chosen = page.evaluate(POINT, "chosen movie")
        assert chosen["names"][-1] == "chosen movie" and set(chosen["types"]) == {"scatter"}
        assert close(pixel(page, chosen["x"], chosen["y"]), ACCENT), "the chosen movie is covered"
        screenshot(page, "maps-embeddings-matrix")

        # a box over the middle of the map: the count in the table's heading is the count on the button and in the file
        area = page.evaluate(PLOT_AREA)
        page.mouse.move(area["x"] + area["w"] * 0.3, area["y"] + area["h"] * 0.3)
        page.mouse.down()
        page.mouse.move(area["x"] + area["w"] * 0.7, area["y"] + area["h"] * 0.7, steps=12)
        page.mouse.up()
        wait_idle(page)
        heading = page.get_by_text(re.compile(r"^[0-9,]+ selected movies"))
        expect(heading).to_be_visible(timeout=30_000)
        n = int(heading.inner_text().split(" ")[0].replace(",", ""))
        assert n > 0
        button = page.get_by_role("button", name=re.compile(r"^Download the [0-9,]+ selected movies? \(CSV\)$"))
        expect(button).to_have_text(f"Download the {n:,} selected movie{'s' if n != 1 else ''} (CSV)")
        with page.expect_download(timeout=30_000) as download:
            button.click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0] == "item_id,title,year,genres,n_ratings,pc1,pc2" and len(lines) == n + 1
        assert not re.search(r",\d{4}\.0,", "\n".join(lines))  # years are whole numbers
        screenshot(page, "maps-embeddings-selection")

        page.get_by_text("3D", exact=True).click()
        wait_idle(page)
        page.wait_for_timeout(3000)
        screenshot(page, "maps-embeddings-3d")
        page.close()
