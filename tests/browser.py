"""Debian's headless Chromium driven through Debian's chromium-driver (Selenium), for the
pages' tests: no downloaded browser build, no GPU (OpenLayers draws on Canvas 2D)."""
from __future__ import annotations

import contextlib
from pathlib import Path

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@contextlib.contextmanager
def chromium(tmp_path: Path, size: str = "1366,900", network_log: bool = False):
    """A headless Chromium with downloads into tmp_path/downloads (driver.downloads); on the
    way out, an uncaught exception or a script or style the CSP refused fails the test.
    network_log keeps the DevTools network events for driver.get_log("performance")."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={size}", "--hide-scrollbars", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    logs = {"browser": "ALL"} | ({"performance": "ALL"} if network_log else {})
    options.set_capability("goog:loggingPrefs", logs)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    downloads = tmp_path / "downloads"
    downloads.mkdir(exist_ok=True)
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
        problems = [entry["message"] for entry in driver.get_log("browser")
                    if "Uncaught" in entry["message"] or "Refused" in entry["message"]]
        assert not problems, problems
    finally:
        driver.quit()
