"""Fixtures for report tests: a seeded tiny bank, and a real headless Chromium (selenium)."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from reports_browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS
from reports_factory import make_bank

from tierwise.reports import check_recommendations


@pytest.fixture(scope="session")
def bank():
    """(recs, clients, monthly) for three scored months, checked against the contract."""
    recs, clients, monthly = make_bank(n_clients=500, seed=7)
    return check_recommendations(recs, source="fixture"), clients, monthly


@pytest.fixture(scope="module")
def browser():
    """A fresh headless Chromium with console logging; skipped (with the reason) only when
    chromium is absent -- `make test` installs it first (see the Makefile)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} missing: install with "
                    "`apt-get install chromium chromium-driver fonts-noto-cjk` (make test does this)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tierwise-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
