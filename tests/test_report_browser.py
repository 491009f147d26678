"""report.html in a real browser: headless Chromium (Debian's chromium and chromium-driver) driven by selenium.

``make test`` installs both. Without them this test fails, never skips: the page is only known to work when a
browser has shown it. The screenshot goes to build/screenshots/report.png (or $GRADWISE_SCREENSHOTS) for a
person to look at.
"""

import os
import shutil
from pathlib import Path

import pytest

from gradwise.cli.main import main

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("GRADWISE_SCREENSHOTS", REPO / "build" / "screenshots"))
SEED = ["--preset", "seed-2017", "--epochs", "1", "--limit-train", "1200", "--validation", "100", "--hidden", "32"]


@pytest.fixture(scope="module")
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"headless Chromium is needed for this test but {', '.join(missing)} is missing: run `make test` (it "
            "installs it) or `apt-get install -y chromium chromium-driver`"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=1100,900"):  # fmt: skip
        options.add_argument(flag)  # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_report_opens_in_chromium_without_errors_and_every_image_loads(browser, tmp_path, capsys):
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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "report.png"))
