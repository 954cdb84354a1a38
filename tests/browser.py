"""Headless Chromium for the tests that look at a page in a real browser.

Debian's ``chromium`` and ``chromium-driver`` (installed by ``.ci/run``) are driven by
selenium through the installed ``chromedriver``, so Selenium Manager never runs. The flags
keep the browser on 127.0.0.1: it reaches for the network by itself otherwise (DNS,
component updates), which a test must never do. Audio may start without a user gesture.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

__all__ = ["CHROMIUM_FLAGS", "headless_chromium", "needs_chromium"]

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-quic",
    "--disable-features=AsyncDns,MediaRouter,OptimizationHints",
    "--autoplay-policy=no-user-gesture-required",
)

_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_DRIVER = shutil.which("chromedriver")

needs_chromium = pytest.mark.skipif(
    _CHROMIUM is None or _DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


@contextmanager
def headless_chromium(*, page_load_timeout_s: float = 30.0) -> Iterator[object]:
    """A selenium WebDriver for a fresh headless Chromium profile, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="loci-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(_DRIVER), options=options)
        try:
            driver.set_page_load_timeout(page_load_timeout_s)
            yield driver
        finally:
            driver.quit()
