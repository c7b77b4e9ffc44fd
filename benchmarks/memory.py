"""Memory of long clips: ``predict`` on a 2-minute clip, and a server analysing 2-minute
clips from several visitors at once, against the targets.

    python benchmarks/memory.py [--data DIR] [--visitors 3] [--clips 5] [--json OUT]

* ``predict``: peak RSS of ``python -m ser predict`` on a 4 s and on a 2-minute clip (a
  fresh process each, ``bench.predict_cold_start``); target under 600 MB for 2 minutes.
* the server: ``streamlit run`` of the app, its process's RSS sampled every 0.25 s. Idle:
  after one visitor saw the Upload page with the models loaded, and left. Then
  ``--visitors`` headless Chromium visitors at once each upload ``--clips`` different
  2-minute clips one after another (each waits for its result before the next): the peak
  (target under 1.5 GB). Then they leave, and the RSS once Streamlit has dropped their
  sessions (``--session-ttl`` s after they disconnect, Streamlit's default being 120 s, at
  the next visit: a passer-by opens a page and leaves) and the app has given the memory
  back (every ``config.GIVE_BACK_PERIOD_S``): target within 200 MB of idle.

The 2-minute clips are RAVDESS clips end to end (``--data``, default $SER_DATA_DIR), each
visitor's from another start, so that no two clips are the same audio (a kept analysis
would cost nothing). Prints a markdown table and writes JSON with the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from playwright.sync_api import sync_playwright

from bench import clip_paths, predict_cold_start
from live import CHROMIUM, CHROMIUM_ARGS, PROJECT_DIR, app_env, load_average, report, server
from ser import config

CLIP_S = 119.5  # under the 2-minute limit
SAMPLE_S = 0.25
RESULT_TIMEOUT_MS = 600_000  # a 2-minute clip behind a queue of others, on two shared cores
TARGET_PREDICT_MB = 600
TARGET_SERVER_MB = 1536
TARGET_RETURN_MB = 200
UPLOAD_INPUT = "[data-testid='stFileUploader'] input[type=file]"
VERDICT_CARD = ".ser-lead"  # one per analysed clip that holds speech


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


class Sampler:
    """``measure(pid)`` (the RSS of process ``pid``) every ``period`` seconds on a thread, until
    ``stop()`` or the end of its ``with`` block: ``peak_since(mark)``."""

    def __init__(self, pid: int, period: float = SAMPLE_S, measure=rss_mb):
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self.period, self.measure = period, measure
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append((time.monotonic(), self.measure(self.pid)))

    def now(self) -> float:
        return self.measure(self.pid)

    def peak_since(self, mark: float) -> float:
        return max(mb for t, mb in self.samples if t >= mark)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def long_clips(paths: list[Path], folder: Path, n: int) -> list[Path]:
    """``n`` different ``CLIP_S`` clips of RAVDESS speech end to end, as 16-bit WAV."""
    speech = np.concatenate([sf.read(p, dtype="float32")[0] for p in paths])
    length = int(CLIP_S * config.SAMPLE_RATE)
    repeats = -(-(length + n * config.SAMPLE_RATE) // len(speech))
    speech = np.tile(speech, repeats)
    files = []
    for k in range(n):
        path = folder / f"long-{k:02d}.wav"
        sf.write(path, speech[k * config.SAMPLE_RATE + k: k * config.SAMPLE_RATE + k + length],
                 config.SAMPLE_RATE, subtype="PCM_16")
        files.append(path)
    return files


def upload_page(context, url: str):
    page = context.new_page()
    page.set_default_timeout(RESULT_TIMEOUT_MS)
    page.goto(f"{url}/upload")
    page.locator(UPLOAD_INPUT).wait_for(state="attached")
    return page


def serve_visitors(browser, url: str, sampler: Sampler, clips: list[list[Path]], ttl_s: float) -> dict:
    """Idle RSS, then the visitors' peak and what is left after they leave."""
    first = browser.new_context()
    page = upload_page(first, url)
    first.close()
    time.sleep(ttl_s + 5)  # that first visitor's session dropped too
    idle = sampler.now()
    mark, started = time.monotonic(), time.time()
    contexts = [browser.new_context() for _ in clips]
    pages = [upload_page(c, url) for c in contexts]
    for round_ in range(len(clips[0])):  # every visitor drops a clip, then all wait for theirs
        for page, files in zip(pages, clips):
            page.locator(UPLOAD_INPUT).set_input_files(files[round_])
        for page in pages:  # the result, and the uploader emptied for the next file (a new one)
            page.wait_for_function(f"document.querySelectorAll('{VERDICT_CARD}').length >= {min(round_ + 1, 4)}"
                                   " && !document.querySelector('[data-testid=\"stSpinner\"]')"
                                   " && document.querySelectorAll('[data-testid=\"stFileUploader\"]').length == 1"
                                   " && !document.querySelector('[data-testid=\"stFileUploaderFile\"]')")
    busy_s = time.time() - started
    peak = sampler.peak_since(mark)
    for context in contexts:
        context.close()
    # Streamlit drops a disconnected session after its TTL, when its session store is next
    # touched: by the next visitor, who comes and goes here.
    time.sleep(ttl_s + 5)
    passer_by = browser.new_context()
    upload_page(passer_by, url)
    passer_by.close()
    time.sleep(config.GIVE_BACK_PERIOD_S + 5)  # the app gives freed memory back that often
    after = sampler.now()
    return {"idle_mb": round(idle, 1), "peak_mb": round(peak, 1), "after_leaving_mb": round(after, 1),
            "returned_within_mb": round(after - idle, 1), "analyses": sum(len(c) for c in clips),
            "busy_s": round(busy_s, 1), "session_ttl_s": ttl_s,
            "targets": {"peak_mb": TARGET_SERVER_MB, "returned_within_mb": TARGET_RETURN_MB}}


def markdown(results: dict) -> str:
    short, long_, srv = results["predict_4s"], results["predict_2min"], results["server"]
    return "\n".join([
        "| what | measured | target |", "|---|---:|---:|",
        f"| `predict` peak RSS, 4 s clip | {short['peak_rss_mb']:.0f} MB | – |",
        f"| `predict` peak RSS, 2-minute clip | {long_['peak_rss_mb']:.0f} MB | < {TARGET_PREDICT_MB} MB |",
        f"| server idle (models loaded) | {srv['idle_mb']:.0f} MB | – |",
        f"| server peak, {srv['analyses']} two-minute clips from {results['visitors']} visitors "
        f"at once ({srv['busy_s']:.0f} s) | {srv['peak_mb']:.0f} MB | < {TARGET_SERVER_MB} MB |",
        f"| server after they left (sessions dropped) | {srv['after_leaving_mb']:.0f} MB "
        f"(idle + {srv['returned_within_mb']:.0f}) | idle + {TARGET_RETURN_MB} MB |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=config.data_dir(), help="RAVDESS clips (default $SER_DATA_DIR)")
    parser.add_argument("--visitors", type=int, default=3)
    parser.add_argument("--clips", type=int, default=5, help="2-minute clips each visitor uploads")
    parser.add_argument("--session-ttl", type=float, default=20.0,
                        help="seconds Streamlit keeps a disconnected session (its default: 120)")
    parser.add_argument("--json", type=Path, default=PROJECT_DIR / "benchmarks" / "memory_results.json")
    args = parser.parse_args()
    paths = clip_paths(args.data, 40)
    if not paths:
        parser.error("no clips: pass --data DIR or set $SER_DATA_DIR")
    results = {"load_average_before": load_average(), "cpus": os.cpu_count(),
               "visitors": args.visitors, "clips_per_visitor": args.clips}
    env = app_env()
    env["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(int(args.session_ttl))
    with tempfile.TemporaryDirectory() as folder:
        files = long_clips(paths, Path(folder), args.visitors * args.clips + 1)
        short = Path(folder) / "short.wav"
        sf.write(short, sf.read(files[0], dtype="float32")[0][: 4 * config.SAMPLE_RATE], config.SAMPLE_RATE,
                 subtype="PCM_16")
        results["predict_4s"] = predict_cold_start(config.MODELS_DIR, short)
        results["predict_2min"] = predict_cold_start(config.MODELS_DIR, files[-1])
        per_visitor = [files[v * args.clips:(v + 1) * args.clips] for v in range(args.visitors)]
        with sync_playwright() as playwright, server(PROJECT_DIR, env) as (url, _, process):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            with Sampler(process.pid) as sampler:
                results["server"] = serve_visitors(browser, url, sampler, per_visitor, args.session_ttl)
            browser.close()
    report(results, markdown, args.json)


if __name__ == "__main__":
    main()
