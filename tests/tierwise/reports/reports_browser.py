"""Helpers for browser tests: where Chromium lives, its flags, console errors, screenshots."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

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


DOCS_IMG = REPO / "docs" / "img"
DOCS_IMG_ENV = "TIERWISE_DOCS_IMG"
"""Set to 1 to have `save_doc_screenshot` (re)write the screenshots of docs/img/ as well."""
DESKTOP, PHONE = 1400, 390


def set_viewport(driver, width: int, height: int = 900) -> None:
    """The page's CSS viewport exactly `width` x `height` px (as a desktop window: a mobile
    viewport would widen itself to fit the content and hide any overflow from the checks)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def horizontal_overflow(driver) -> int:
    """How many px the document is wider than the window (0: nothing to scroll sideways)."""
    return int(driver.execute_script(
        "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth;"))


BROKEN_WORDS_JS = r"""
// Words split across two lines inside the elements of a selector: a run of CJK characters or
// of Latin letters and digits whose characters do not all sit on one line.
var kind = function (ch) {
  if (/[\u3400-\u9fff]/.test(ch)) { return "cjk"; }
  if (/[A-Za-z0-9]/.test(ch)) { return "latin"; }
  return null;
};
var broken = [];
document.querySelectorAll(arguments[0]).forEach(function (el) {
  var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  var node, prev = null;
  while ((node = walker.nextNode())) {
    for (var i = 0; i < node.data.length; i++) {
      var k = kind(node.data[i]);
      if (k === null) { prev = null; continue; }
      var range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      var rect = range.getClientRects()[0];
      if (!rect) { continue; }
      if (prev && prev.kind === k && Math.abs(rect.top - prev.top) > rect.height / 2) {
        broken.push(el.textContent.trim());
      }
      prev = {kind: k, top: rect.top};
    }
    prev = null;
  }
});
return broken;
"""


def broken_words(driver, selector: str) -> list[str]:
    """The texts of the elements matching `selector` that break a word across lines."""
    return driver.execute_script(BROKEN_WORDS_JS, selector)


def cells_out_of_view(driver, table: str) -> list[str]:
    """Cells of the table's visible body rows that cannot be seen in the window: not displayed,
    empty-sized, past its right edge, or without a `data-label` naming their column."""
    return driver.execute_script(r"""
var table = document.querySelector(arguments[0]);
var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) { return c.textContent.trim(); });
var bad = [];
Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
  if (getComputedStyle(row).display === "none") { return; }
  Array.prototype.forEach.call(row.cells, function (cell, i) {
    var rect = cell.getBoundingClientRect();
    var where = (row.id || row.getAttribute("data-rm") || "row") + " column " + i;
    if (getComputedStyle(cell).display === "none" || rect.width <= 0 || rect.height <= 0) { bad.push(where + ": hidden"); }
    else if (rect.left < -0.5 || rect.right > window.innerWidth + 0.5) { bad.push(where + ": outside the window"); }
    if ((cell.getAttribute("data-label") || "") !== (heads[i] || "").replace(/\s+/g, " ")) { bad.push(where + ": label"); }
  });
});
return bad;
""", table)


def raw_codes_shown(text: str, codes: Iterable[str]) -> list[str]:
    """The `codes` that appear in `text` as a token of their own (not inside a longer word)."""
    return sorted(c for c in set(codes) if re.search(rf"(?<![A-Za-z0-9_]){re.escape(c)}(?![A-Za-z0-9_])", text))


def save_doc_screenshot(driver, name: str, width: int, max_height: int = 1800) -> Path:
    """The page at `width` px (up to `max_height` px of it) as a small PNG under test-artifacts/,
    and under docs/img/ too when TIERWISE_DOCS_IMG=1 (how the README's screenshots are made:
    `TIERWISE_DOCS_IMG=1 pytest -m browser tests/tierwise/reports/test_browser_reports.py`)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    set_viewport(driver, width, min(max(height, 600), max_height))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    image = Image.open(path).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    image.save(path, optimize=True)
    if os.environ.get(DOCS_IMG_ENV) == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        image.save(DOCS_IMG / name, optimize=True)
    set_viewport(driver, width)
    return path
