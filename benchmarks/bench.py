"""Speed and memory of the shipped models, against the project's targets.

    python benchmarks/bench.py [--models DIR] [--data DIR] [--repeats N] [--clips N] [--json OUT]

Measures, on this machine:

* latency per 4 s clip of each model, backbone and head separately (median of
  ``--repeats`` runs after one warm-up run), in ms, with PyTorch on one thread (as
  ``predict`` and ``evaluate`` run it) and on its default thread count;
* ``python -m ser predict FILE`` from a cold process: wall and CPU time (median of 3)
  and peak resident memory of that process;
* feature extraction as training does it on a cache miss (decode, trim to speech,
  backbone) over ``--clips`` clips: clips/s and seconds of audio per second;
* refusing an upload that holds 2 h of 48 kHz stereo silence (a ~1.4 MB FLAC) as too
  long: ``load_audio`` time and the peak resident memory of the process doing it.

Prints a markdown table and writes the numbers as JSON. Clips come from ``--data``
(default $SER_DATA_DIR), else ``examples/``.
A shared machine makes every number noisy: the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from ser import audio as audio_io  # noqa: E402
from ser import config  # noqa: E402
from ser.backbones import REGISTRY  # noqa: E402

CLIP_S = 4.0
TARGET_PREDICT_S = 3.0
PREDICT_RUNS = 3
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".webm")
LONG_UPLOAD_MIN = 120  # 2 h: before the header check it took 23 s and 4.9 GB to refuse
LONG_UPLOAD_RATE = 48_000
# Run in a fresh process, so its peak RSS is the refusal's (plus Python and the imports), not the
# benchmark's; prints the seconds load_audio took.
REFUSE_SCRIPT = """import sys, time
from ser.audio import TooLongError, load_audio
start = time.perf_counter()
try:
    load_audio(sys.argv[1])
except TooLongError:
    print(time.perf_counter() - start)
"""


def clip_paths(data_dir: Path | None, n_clips: int) -> list[Path]:
    """Up to ``n_clips`` audio files spread evenly over ``data_dir`` (or examples/)."""
    for folder in (data_dir, config.EXAMPLES_DIR):
        if folder and folder.is_dir():
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if paths:
                step = max(1, len(paths) // n_clips)
                return paths[::step][:n_clips]
    return []


def four_second_clip(path: Path) -> np.ndarray:
    """The clip at ``path`` as 4 s of 16 kHz audio, looped or cut to length."""
    audio = audio_io.load_audio(path)
    return np.resize(audio, int(CLIP_S * config.SAMPLE_RATE)).astype(np.float32)  # resize repeats


def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in ms, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def model_latency(models, audio: np.ndarray, repeats: int, threads: int) -> dict[str, dict]:
    """Backbone and head ms per clip of each model on ``audio``, PyTorch on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    results = {}
    for model in models:
        frames = model.frames(audio)
        backbone_ms = median_ms(lambda: model.frames(audio), repeats)
        head_ms = median_ms(lambda: model.predict_frames(frames), repeats)
        results[model.id] = {"threads": threads, "backbone_ms": backbone_ms, "head_ms": head_ms,
                             "total_ms": backbone_ms + head_ms,
                             "target_ms": REGISTRY[model.card.backbone.kind].latency_target_ms}
    return results


def predict_cold_start(models_dir: Path, audio_file: Path) -> dict:
    """Wall and CPU time (medians of ``PREDICT_RUNS``) and peak RSS of ``python -m ser predict FILE``."""
    command = [sys.executable, "-m", "ser", "predict", "--models", str(models_dir), str(audio_file)]
    walls, cpus, peaks_mb = [], [], []
    for _ in range(PREDICT_RUNS):
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not all children's
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks_mb.append(usage.ru_maxrss / 1024)  # Linux reports KiB
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"predict failed: {process.stderr.read().decode()}")
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus), "runs_wall_s": walls,
            "peak_rss_mb": max(peaks_mb), "target_s": TARGET_PREDICT_S}


def extraction_throughput(models, paths: list[Path], threads: int) -> dict[str, dict]:
    """Training-time feature extraction without the cache (decode, trim, backbone),
    PyTorch on ``threads`` threads."""
    import torch

    from ser.featurestore import load_training_clip

    torch.set_num_threads(threads)
    audio_s = sum(sf.info(p).duration for p in paths)
    results = {}
    for model in models:
        model.frames(load_training_clip(paths[0]))  # warm-up
        start = time.perf_counter()
        for path in paths:
            model.frames(load_training_clip(path))
        elapsed = time.perf_counter() - start
        results[model.backbone.kind] = {"threads": threads, "clips": len(paths), "seconds": elapsed,
                                        "clips_per_s": len(paths) / elapsed,
                                        "audio_s_per_s": audio_s / elapsed}
    return results


def silent_flac(path: Path, minutes: int, rate: int = LONG_UPLOAD_RATE) -> None:
    """``minutes`` of stereo digital silence at ``rate`` Hz as FLAC, which shrinks it ~1000-fold."""
    minute = np.zeros((60 * rate, 2), np.int16)
    with sf.SoundFile(path, "w", rate, 2, format="FLAC", subtype="PCM_16") as out:
        for _ in range(minutes):
            out.write(minute)


def refuse_long_upload(path: Path) -> dict:
    """Seconds ``load_audio`` takes to refuse ``path`` as too long, and the peak RSS of its process."""
    process = subprocess.Popen([sys.executable, "-c", REFUSE_SCRIPT, str(path)], cwd=PROJECT_DIR,
                               stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    printed = process.stdout.read().strip()
    if os.waitstatus_to_exitcode(status) != 0 or not printed:
        raise RuntimeError(f"{path} was not refused as too long")
    return {"minutes": LONG_UPLOAD_MIN, "file_mb": path.stat().st_size / 1e6,
            "refuse_s": float(printed), "peak_rss_mb": usage.ru_maxrss / 1024}


def markdown(results: dict) -> str:
    def verdict(value, target):
        return "" if target is None else ("yes" if value < target else "**no**")

    lines = [f"Machine: {results['machine']}", "",
             "| model | torch threads | backbone ms | head ms | total ms per 4 s clip | target ms | met |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for runs in results["latency"]:
        for model_id, r in runs.items():
            target = r["target_ms"]
            lines.append(f"| {model_id} | {r['threads']} | {r['backbone_ms']:.1f} | {r['head_ms']:.1f} | "
                         f"{r['total_ms']:.1f} | {target if target is not None else ''} | "
                         f"{verdict(r['total_ms'], target)} |")
    p = results["predict"]
    lines += ["",
              "| predict CLI, one file, cold start | wall s | CPU s | peak RSS MB | target s | met (wall) |",
              "|---|---:|---:|---:|---:|---|",
              f"| median of {PREDICT_RUNS} | {p['wall_s']:.2f} | {p['cpu_s']:.2f} | {p['peak_rss_mb']:.0f} | "
              f"{p['target_s']} | {verdict(p['wall_s'], p['target_s'])} |"]
    lines += ["", "| backbone (training extraction) | torch threads | clips | clips/s | audio s per s |",
              "|---|---:|---:|---:|---:|"]
    for kind, r in results["extraction"].items():
        lines.append(f"| {kind} | {r['threads']} | {r['clips']} | {r['clips_per_s']:.1f} | "
                     f"{r['audio_s_per_s']:.1f} |")
    r = results["long_upload"]
    lines += ["", "| refuse as too long | file MB | load_audio s | process peak RSS MB |",
              "|---|---:|---:|---:|",
              f"| {r['minutes'] // 60} h of 48 kHz stereo silence (FLAC) | {r['file_mb']:.1f} | "
              f"{r['refuse_s']:.3f} | {r['peak_rss_mb']:.0f} |"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=config.MODELS_DIR, help="models folder")
    parser.add_argument("--data", type=Path, default=config.data_dir(), help="clips (default $SER_DATA_DIR)")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per latency figure")
    parser.add_argument("--clips", type=int, default=50, help="clips for the extraction throughput")
    parser.add_argument("--json", type=Path, default=PROJECT_DIR / "benchmarks" / "results.json",
                        metavar="OUT", help="where the JSON goes (default: %(default)s)")
    args = parser.parse_args()

    import torch

    from ser.models import load_models

    default_threads = torch.get_num_threads()

    paths = clip_paths(args.data, args.clips)
    if not paths:
        parser.error("no clips: pass --data DIR or set $SER_DATA_DIR")
    audio = four_second_clip(paths[0])
    with tempfile.TemporaryDirectory() as tmp:
        clip_file = Path(tmp) / "clip.wav"
        sf.write(clip_file, audio, config.SAMPLE_RATE, subtype="PCM_16")
        predict = predict_cold_start(args.models, clip_file)  # first, while this process is still small
        long_file = Path(tmp) / "two-hours.flac"
        silent_flac(long_file, LONG_UPLOAD_MIN)
        long_upload = refuse_long_upload(long_file)
    models = load_models(args.models)
    results = {
        "machine": f"{os.cpu_count()} CPUs, torch {torch.__version__} "
                   f"({default_threads} threads by default), "
                   f"load average {os.getloadavg()[0]:.1f} at start",
        "clip": str(paths[0]),
        "predict": predict,
        "latency": [model_latency(models, audio, args.repeats, n) for n in sorted({1, default_threads})],
        "extraction": extraction_throughput(models, paths, default_threads),  # as training runs
        "long_upload": long_upload,
    }
    print(markdown(results))
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
