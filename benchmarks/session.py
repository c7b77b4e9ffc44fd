"""Memory of a long live session: one visitor streaming on the Live page, take after take.

    python benchmarks/session.py [--minutes 30] [--json OUT]

Starts ``streamlit run`` and headless system Chromium with the fake microphone of
``live.py``. The visitor opens the Live page, waits for the models, turns "Adapt to this
session" on (so every window heard joins the session's setting), then for ``--minutes``
minutes: START, lets the take run until it closes at its cap (``config.MAX_DURATION_S``:
the live view says "Take closed"), waits for the take's analysis, STOP, START again. A
take is only begun while a whole one still fits in the time left. Meanwhile the server's
RSS (its child processes included) is sampled every ``SAMPLE_S`` seconds.

Reports the RSS after the first take (its analysis on screen, STOP pressed), the peak, the
RSS at the end (the same moment of the last take: within a take the RSS climbs with its
audio to the analysis at the cap and falls back at the next START, so a sample taken at
the cap would not compare), the slope over the second half of the session (least squares,
MB per 10 min), the number of takes and whether each START streamed, against the target
"flat": the end within ``TARGET_END_MB`` of the value after the first take and the slope
under ``TARGET_SLOPE_MB``. Prints a markdown table and writes JSON with the load average.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from live import (PROJECT_DIR, WEBRTC_IFRAME, app_env, live_browser, load_average, markdown_table, observed,
                  open_live, playing, report, server, start_button, wait_models_ready)
from memory import Sampler, rss_mb
from ser import config

SAMPLE_S = 5.0
STREAMS_WITHIN_S = 30.0  # a START streamed when the take counter passed 3 s this soon after it
FRESH_TAKE_PAST_3_S_JS = """() => {
  const r = window.__ser.recorded, first = r.findIndex(([, s]) => s < 3);
  return first >= 0 && r.slice(first).some(([, s]) => s > 3);
}"""
TAKE_OVERHEAD_S = 30.0  # START, the analysis at the cap and STOP, on two shared cores
TARGET_END_MB = 100
TARGET_SLOPE_MB = 20  # per 10 minutes
ADAPT_TOGGLE = ".st-key-adapt-live"
RESULT_LEAD = ".st-key-ser-result .ser-lead"


def tree_rss_mb(pid: int) -> float:
    """The RSS of process ``pid`` and of its descendants."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            total += rss_mb(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration):  # it ended meanwhile
            pass
    return total


def adapt_on(page) -> None:
    page.locator(f"{ADAPT_TOGGLE} label").click()
    page.wait_for_function(f"document.querySelector('{ADAPT_TOGGLE} input').checked")


def one_take(page) -> dict:
    """START, the take to its cap and its analysis, STOP: whether it streamed, and how long it took."""
    page.evaluate("() => { window.__ser.recorded = []; window.__ser.reading = null; }")
    started = time.time()
    start_button(page).click()
    streamed = False
    try:
        # A fresh count first: the last take's "120 s recorded" can show again before this one's.
        page.wait_for_function(FRESH_TAKE_PAST_3_S_JS, timeout=1000 * STREAMS_WITHIN_S)
        streamed = True
        page.wait_for_function("(document.querySelector('.st-key-live-view') || {innerText: ''})"
                               ".innerText.includes('Take closed')",
                               timeout=1000 * (config.MAX_DURATION_S + 120))
        page.wait_for_selector(RESULT_LEAD, timeout=120_000)
    finally:
        recorded = observed(page)["recorded"]
        if playing(page):
            page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="STOP").click()
        start_button(page).wait_for()
    return {"streamed": streamed, "recorded_s": recorded[-1][1] if recorded else 0.0,
            "take_s": round(time.time() - started, 1)}


def slope_mb_per_10min(samples: list[tuple[float, float]]) -> float:
    t, mb = np.array(samples).T
    return float(np.polyfit(t, mb, 1)[0]) * 600


def live_session(browser, url: str, sampler: Sampler, minutes: float) -> dict:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = open_live(context, url)
    wait_models_ready(page)
    adapt_on(page)
    began = time.monotonic()
    end = began + 60 * minutes
    takes = []
    while end - time.monotonic() >= config.MAX_DURATION_S + TAKE_OVERHEAD_S:
        take = one_take(page)
        take["rss_mb"] = round(sampler.now(), 1)
        takes.append(take)
        print(f"take {len(takes)}: {take}", flush=True)
        if not take["streamed"]:
            break
    heard = re.search(r"Heard so far: (\d+) stretch", page.inner_text("body"))
    finished = time.monotonic()
    context.close()
    samples = [(t - began, mb) for t, mb in sampler.samples if began <= t <= finished]
    second_half = [(t, mb) for t, mb in samples if t >= (finished - began) / 2]
    return {
        "minutes": round((finished - began) / 60, 1), "takes": takes,
        "after_first_take_mb": takes[0]["rss_mb"], "peak_mb": round(max([mb for _, mb in samples] + [t["rss_mb"] for t in takes]), 1),
        "end_mb": takes[-1]["rss_mb"], "last_sample_mb": round(samples[-1][1], 1), "slope_mb_per_10min": round(slope_mb_per_10min(second_half), 1),
        "every_start_streamed": all(t["streamed"] for t in takes),
        "setting_stretches": int(heard.group(1)) if heard else None,
        "samples": [(round(t, 1), round(mb, 1)) for t, mb in samples],
        "targets": {"end_within_mb_of_first_take": TARGET_END_MB, "slope_mb_per_10min": TARGET_SLOPE_MB},
    }


def markdown(results: dict) -> str:
    s = results["session"]
    grew = s["end_mb"] - s["after_first_take_mb"]
    flat = abs(grew) <= TARGET_END_MB and s["slope_mb_per_10min"] < TARGET_SLOPE_MB
    streamed = "every START streamed" if s["every_start_streamed"] else "a START did not stream"
    return markdown_table([
        ("server RSS after the first take", f"{s['after_first_take_mb']:.0f} MB", "–"),
        ("server peak RSS", f"{s['peak_mb']:.0f} MB", "–"),
        (f"server RSS at the end ({s['minutes']:g} min)", f"{s['end_mb']:.0f} MB (first take {grew:+.0f})",
         f"first take ± {TARGET_END_MB} MB"),
        ("RSS slope over the second half", f"{s['slope_mb_per_10min']:+.1f} MB per 10 min",
         f"< {TARGET_SLOPE_MB} MB per 10 min"),
        (f"takes of {config.MAX_DURATION_S:g} s, adapting to the session ({s['setting_stretches']} stretches "
         "heard)", f"{len(s['takes'])}, {streamed}", "every START streams"),
        (f"flat: the end within first take ± {TARGET_END_MB} MB and the slope under {TARGET_SLOPE_MB} MB "
         "per 10 min", "yes" if flat else "no", "yes"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--json", type=Path, default=PROJECT_DIR / "benchmarks" / "session_results.json")
    args = parser.parse_args()
    results = {"load_average_before": load_average(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser, _ = live_browser(playwright, Path(folder))
        with server(PROJECT_DIR, app_env()) as (url, _, process):
            with Sampler(process.pid, SAMPLE_S, tree_rss_mb) as sampler:
                results["session"] = live_session(browser, url, sampler, args.minutes)
        browser.close()
    report(results, markdown, args.json)


if __name__ == "__main__":
    main()
