"""Helpers for browser tests: where Chromium lives, its flags, console errors, screenshots."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1600,1000",
)


def open_page(driver, path: Path) -> None:
    """Load a local file after draining earlier console messages."""
    driver.get_log("browser")
    driver.get(path.as_uri())


def console_errors(driver) -> list[str]:
    """Console messages at level SEVERE (errors, failed loads) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def save_screenshot(driver, name: str) -> Path:
    """The whole page (up to 6000 px tall) as a PNG under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1600, min(max(int(height) + 40, 600), 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1600, 1000)
    return path
