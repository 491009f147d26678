"""report.html in a real browser: headless Chromium (Debian's chromium and chromium-driver) driven by selenium.

``make test`` installs both; conftest.py's ``browser`` drives them. Without them this test fails, never skips: the
page is only known to work when a browser has shown it. The screenshot goes to build/screenshots/report.png (or
$GRADWISE_SCREENSHOTS) for a person to look at.
"""

from gradwise.cli.main import main

SEED = ["--preset", "seed-2017", "--epochs", "1", "--limit-train", "1200", "--validation", "100", "--hidden", "32"]


def test_report_opens_in_chromium_without_errors_and_every_image_loads(browser, screenshots, tmp_path, capsys):
    out = tmp_path / "seed"
    assert main(["train", *SEED, "--out", str(out), "--report", "--json"]) == 0
    browser.get((out / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    images = browser.execute_script(
        "return [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
    )
    assert len(images) == 8
    assert [i["alt"] for i in images if not (i["complete"] and i["width"] > 0)] == [], "images that did not load"
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == [], "the page fetched something: it must be self-contained"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert "saturation" in browser.find_element("tag name", "body").text
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1100, height)
    assert browser.save_screenshot(str(screenshots / "report.png"))
