"""report.html in a real browser: headless Chromium (Debian's) driven by Playwright, offline from a file."""

import shutil

import pytest

from rewardscope.workflow import analyze

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright: pip install -e '.[test]'")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium: apt-get install chromium (.ci/run installs it)"
)

# Where Plotly drew the first cell of class 0, in the page's pixels (the plot scrolled into view first).
FIRST_CELL = """() => {
    const gd = document.getElementById('view-0');
    gd.scrollIntoView();
    const n = gd._fullData.findIndex(t => t.name && t.name.startsWith('0: '));
    const trace = gd._fullData[n], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
    return [box.left + xa.l2p(trace.x[0]), box.top + ya.l2p(trace.y[0])];
}"""


def test_the_report_loads_offline_without_errors_and_a_cell_answers_a_hover(stripes, tmp_path):
    analyze(stripes.image, out=tmp_path / "out", n_trials=3, descriptors=("polarization",), progress=False)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route("http*://**", lambda route: route.abort())  # offline: nothing may be fetched
        page.goto((tmp_path / "out" / "report.html").as_uri())
        page.wait_for_selector("#view-2 .main-svg")
        assert page.locator(".plotly-graph-div").count() == 3  # classes, polarization field, trials
        x, y = page.evaluate(FIRST_CELL)
        page.mouse.move(x, y)
        hover = page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000).text_content()
        browser.close()
    assert "class 0" in hover and "cell (" in hover and " pm" in hover, hover
    assert not errors, errors
