"""How live the Live page feels, measured in a real browser.

    python benchmarks/live.py [--tries 20] [--take-s 14 60] [--visitors 3] [--json OUT] [--app DIR]

Starts ``streamlit run`` on a free port and drives headless system Chromium
(``/usr/bin/chromium``, never a downloaded browser) whose fake microphone plays
``MIC_SILENCE_S`` of silence and then an example clip, in a loop. Measures:

* cold start: server process started -> first page usable (the Live page's title and
  the stream's START button on screen), and -> models ready (the "models loading"
  notice gone and the voice panel, which needs the models, shown), in s;
* START success over ``--tries`` fresh pages (a new browser context each, the first ones
  opened while the models still load): a try succeeds when, 8 s after START, the stream
  still plays and the take counter has passed 3 s;
* per successful try: START -> the take counter first above 0 (the level meter and
  waveform move with it), and the first speech -> the first live reading, in s;
* the live view's refresh rate while streaming (changes of the "x.x s recorded" text
  per second);
* STOP -> the take's verdict cards on screen, for takes of each ``--take-s`` seconds;
* ``--visitors`` browser contexts streaming at once: each one's refresh rate, and
  whether any stream stopped by itself.

Times come from one clock (the page's ``Date.now()`` and Python's ``time.time()`` on
the same machine). Prints a markdown table and writes JSON with the load average;
on a shared 2-core machine every figure is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from ser import audio as audio_io  # noqa: E402
from ser import config  # noqa: E402

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
CLIP = config.EXAMPLES_DIR / "03-01-05-02-01-01-03.flac"  # angry, 4.4 s
MIC_SILENCE_S = 2.0  # silence before the clip in the microphone's loop: "first speech" is then clear
WEBRTC_IFRAME = "iframe[title*='streamlit_webrtc']"
TRY_STREAM_S = 8.0  # how long a START try must keep streaming to count as a success
REFRESH_PERIOD_S = 10.0  # the period the refresh rate is counted over
# Installed in every page: logs each change of the take counter and the first live reading,
# with Date.now() timestamps, without polling from Python.
OBSERVER_JS = """() => {
  window.__ser = {recorded: [], reading: null};
  const look = () => {
    const view = document.querySelector('.st-key-live-view');
    if (!view) return;
    const m = view.innerText.match(/([\\d.]+) s recorded/);
    const log = window.__ser.recorded;
    if (m && (!log.length || log[log.length - 1][1] !== parseFloat(m[1])))
      log.push([Date.now(), parseFloat(m[1])]);
    if (window.__ser.reading === null && view.querySelector('.ser-verdict'))
      window.__ser.reading = Date.now();
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def microphone_wav(folder: Path) -> tuple[Path, float]:
    """The fake microphone's loop as 48 kHz 16-bit WAV, and where its speech starts, in s."""
    audio, rate = sf.read(CLIP, dtype="float32")
    start, _ = audio_io.speech_span(soxr.resample(audio, rate, config.SAMPLE_RATE), margin_s=0.0)
    loop = np.concatenate([np.zeros(int(MIC_SILENCE_S * rate), np.float32), audio])
    path = folder / "microphone-48k.wav"
    sf.write(path, soxr.resample(loop, rate, 48_000).clip(-1, 1), 48_000, subtype="PCM_16")
    return path, MIC_SILENCE_S + start / config.SAMPLE_RATE


def app_env() -> dict:
    """This environment without the switches that turn the stream off or point it elsewhere."""
    return {k: v for k, v in os.environ.items() if k not in (config.LIVE_WEBRTC_ENV, config.ICE_SERVERS_ENV)}


def live_browser(playwright, folder: Path):
    """Headless system Chromium whose fake microphone plays ``microphone_wav``'s loop, and where
    its speech starts, in s."""
    wav, speech_s = microphone_wav(folder)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS + [f"--use-file-for-fake-audio-capture={wav}"])
    return browser, speech_s


@contextmanager
def server(app_dir: Path, env: dict):
    """``streamlit run`` of the app in ``app_dir``: yields (url, the wall time it was started,
    the server's process)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.time()
    log = open(Path(tempfile.gettempdir()) / f"ser-live-bench-{port}.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"streamlit exited: see {log.name}")
                time.sleep(0.05)
        yield url, started, process
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def open_live(context, url: str):
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.evaluate(OBSERVER_JS)
    return page


def start_button(page):
    return page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START")


def models_ready(page) -> bool:
    return page.get_by_text("Calibrate to my voice").count() > 0  # the voice panel needs the models


def wait_models_ready(page) -> None:
    page.wait_for_function("document.body.innerText.includes('Calibrate to my voice')", timeout=120_000)


def observed(page) -> dict:
    return page.evaluate("() => window.__ser")


def playing(page) -> bool:
    return page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="STOP").count() > 0


def first_moving_s(log: list, clicked_ms: float) -> float | None:
    moving = [t for t, seconds in log if seconds > 0]
    return (moving[0] - clicked_ms) / 1000 if moving else None


def take_origin_ms(log: list) -> float | None:
    """Wall time of the take's first sample: the earliest (shown at - seconds shown) over the
    log, since the counter is shown late by up to a refresh and never early."""
    return min(t - 1000 * seconds for t, seconds in log if seconds > 0) if log else None


def refresh_hz(log: list, since_ms: float, period_s: float) -> float:
    changes = [t for t, _ in log if since_ms <= t <= since_ms + 1000 * period_s]
    return len(changes) / period_s


def cold_start_and_tries(browser, app_dir, env, tries, speech_s) -> dict:
    """A fresh server: the cold start, then ``tries`` STARTs on fresh pages, the first during loading."""
    out = {"tries": []}
    with server(app_dir, env) as (url, started, _):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = open_live(context, url)
        page.get_by_role("heading", name="Live emotion recognition").wait_for()
        start_button(page).wait_for()
        out["first_page_usable_s"] = round(time.time() - started, 2)
        ready_seen = None
        for i in range(tries):
            if i:
                context.close()
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = open_live(context, url)
                start_button(page).wait_for()
            during_loading = not models_ready(page)
            clicked = time.time() * 1000
            start_button(page).click()
            deadline = time.time() + TRY_STREAM_S
            while time.time() < deadline:
                page.wait_for_timeout(100)
                if ready_seen is None and models_ready(page):
                    ready_seen = time.time()
            log = observed(page)["recorded"]
            ok = playing(page) and bool(log) and log[-1][1] > 3.0
            reading = observed(page)["reading"]
            origin = take_origin_ms(log)
            out["tries"].append({
                "ok": ok, "during_loading": during_loading,
                "start_to_meter_s": first_moving_s(log, clicked),
                "speech_to_reading_s": (round((reading - origin) / 1000 - speech_s, 2)
                                        if reading and origin else None),
                "refresh_hz": refresh_hz(log, clicked + 3000, TRY_STREAM_S - 3),
            })
            print(f"try {i + 1}: {out['tries'][-1]}", flush=True)
        while ready_seen is None:
            page.wait_for_timeout(100)
            if models_ready(page):
                ready_seen = time.time()
        out["models_ready_s"] = round(ready_seen - started, 2)
        context.close()
    return out


def take_to_predictions(browser, url: str, take_s: float) -> dict:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = open_live(context, url)
    start_button(page).click()
    deadline = time.time() + take_s + 60
    while True:
        log = observed(page)["recorded"]
        if log and log[-1][1] >= take_s:
            break
        if time.time() > deadline:
            raise RuntimeError(f"the {take_s:g} s take never got there: counter {log[-1:]}, "
                               f"streaming {playing(page)}")
        page.wait_for_timeout(50)
    load = load_average()
    stopped = time.time()
    page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="STOP").click()
    page.wait_for_function("document.querySelector('.st-key-ser-result .ser-lead')", polling=50,
                           timeout=120_000)
    result = {"take_s": log[-1][1], "stop_to_predictions_s": round(time.time() - stopped, 2),
              "load_average": load}
    context.close()
    return result


def visitors(browser, url: str, n: int) -> dict:
    contexts = [browser.new_context(viewport={"width": 1024, "height": 768}) for _ in range(n)]
    pages = [open_live(c, url) for c in contexts]
    clicked = []
    for page in pages:
        start_button(page).click()
        clicked.append(time.time() * 1000)
    time.sleep(3 + REFRESH_PERIOD_S)
    logs = [observed(p)["recorded"] for p in pages]
    result = {"refresh_hz": [refresh_hz(log, max(clicked) + 3000, REFRESH_PERIOD_S) for log in logs],
              "still_playing": [playing(p) for p in pages], "load_average": load_average()}
    for context in contexts:
        context.close()
    return result


def summary(results: dict) -> str:
    tries = results["start"]["tries"]
    ok = [t for t in tries if t["ok"]]

    def spread(key):
        values = [t[key] for t in ok if t[key] is not None]
        return (f"{statistics.median(values):.2f} (range {min(values):.2f}–{max(values):.2f}, n={len(values)})"
                if values else "–")
    rows = [
        ("server start → first page usable", f"{results['start']['first_page_usable_s']:.1f} s", "< 5 s"),
        ("server start → models ready", f"{results['start']['models_ready_s']:.1f} s", "< 10 s"),
        ("START streams (fresh pages)", f"{len(ok)} of {len(tries)} "
         f"({sum(t['during_loading'] for t in tries)} pressed while the models loaded)", "20 of 20"),
        ("START → meter moving, s (median)", spread("start_to_meter_s"), "< 0.3 s"),
        ("first speech → first live reading, s (median)", spread("speech_to_reading_s"), "< 1.5 s"),
        ("live view refresh, Hz (median)", spread("refresh_hz"), "≥ 2 Hz"),
    ]
    for take in results["takes"]:
        rows.append((f"STOP → predictions, {take['take_s']:.0f} s take (load {take['load_average'][0]})",
                     f"{take['stop_to_predictions_s']:.2f} s", "< 1 s"))
    if results.get("visitors"):
        v = results["visitors"]
        rows.append((f"{len(v['refresh_hz'])} visitors at once: refresh, Hz (load {v['load_average'][0]})",
                     ", ".join(f"{hz:.1f}" for hz in v["refresh_hz"])
                     + ("" if all(v["still_playing"]) else " (a stream stopped)"), "≥ 2 Hz each"))
    return markdown_table(rows)


def markdown_table(rows) -> str:
    """``rows`` of (what, measured, target) as a markdown table."""
    return "\n".join(["| what | measured | target |", "|---|---:|---:|"]
                     + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def report(results: dict, table, path: Path) -> None:
    """Write ``results`` with the load average now as JSON to ``path``, and print ``table(results)``."""
    results["load_average_after"] = load_average()
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nload average before {results['load_average_before']}, after {results['load_average_after']}; "
          f"JSON: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--take-s", type=float, nargs="*", default=[14.0])
    parser.add_argument("--visitors", type=int, default=3)
    parser.add_argument("--app", type=Path, default=PROJECT_DIR, help="the app's folder (default: this one)")
    parser.add_argument("--json", type=Path, default=PROJECT_DIR / "benchmarks" / "live_results.json")
    args = parser.parse_args()
    env = app_env()
    results = {"load_average_before": load_average(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser, speech_s = live_browser(playwright, Path(folder))
        results["speech_starts_s"] = round(speech_s, 2)
        results["start"] = cold_start_and_tries(browser, args.app, env, args.tries, speech_s)
        with server(args.app, env) as (url, _, _):
            warm = browser.new_context()
            wait_models_ready(open_live(warm, url))
            warm.close()
            results["takes"] = [take_to_predictions(browser, url, s) for s in args.take_s]
            results["visitors"] = visitors(browser, url, args.visitors) if args.visitors else None
        browser.close()
    report(results, summary, args.json)


if __name__ == "__main__":
    main()
