"""The web client in a real headless Chromium: it connects, plays, and a slider reaches the
music at the next bar line.

Debian's chromium and chromium-driver (installed by .ci/run) drive the page; the browser
stays on 127.0.0.1 (tests/browser.py). Skipped only where Chromium is not installed.
"""

from __future__ import annotations

import time

from browser import headless_chromium, needs_chromium
from serve_support import server_process

pytestmark = needs_chromium


def _wait(driver, script: str, *, timeout_s: float, what: str):
    """Poll a JavaScript expression until it is truthy (bounded), and return its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script};")
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}: {script}")


def test_page_plays_the_stream_and_the_tempo_slider_changes_the_next_bar():
    with server_process() as (base, _pid), headless_chromium() as driver:
        driver.get(f"http://{base}/")
        driver.find_element("id", "instruction").clear()
        driver.find_element("id", "instruction").send_keys("an upbeat pop song at 100 bpm")
        driver.find_element("id", "start").click()
        _wait(driver, "window.loci.state", timeout_s=60, what="the first state")
        assert driver.execute_script("return window.loci.state.bar.tempo_bpm") == 100
        # Blocks arrive and the AudioWorklet plays them (its own counters, read back).
        _wait(
            driver,
            "window.loci.stats.framesPlayed > 48000",
            timeout_s=30,
            what="a second of audio played by the worklet",
        )
        stats = driver.execute_script("return window.loci.stats")
        assert stats["blocksReceived"] >= 150
        assert driver.execute_script("return window.loci.context.state") == "running"

        # Move the tempo slider as a user does: set it and fire its change event.
        bar_before = driver.execute_script("return window.loci.state.bar")
        driver.execute_script(
            "const s = document.getElementById('tempo'); s.value = 130;"
            "s.dispatchEvent(new Event('change'));"
        )
        pending = _wait(
            driver,
            "(window.loci.state.pending || []).find(p => p.what.startsWith('tempo'))",
            timeout_s=15,
            what="the tempo change scheduled",
        )
        assert pending["what"] == "tempo 130 bpm"
        # At the first bar line at least the generation guard after the slider moved
        # (docs/protocol.md): not a later one.
        samples = bar_before["samples"]
        earliest = pending["asked_at_sample"] + pending["guard_samples"]
        assert earliest <= pending["at_sample"] < earliest + samples
        assert (pending["at_sample"] - bar_before["line_sample"]) % round(samples) < 2
        _wait(
            driver,
            f"window.loci.state.bar.tempo_bpm === 130 && window.loci.state.sample >= "
            f"{pending['at_sample']}",
            timeout_s=20,
            what="the new bar at 130 bpm",
        )
        assert driver.execute_script("return window.loci.errors.length") == 0
