"""Speed and memory of the shipped models, against the project's targets.

    python benchmarks/bench.py [--models DIR] [--data DIR] [--repeats N] [--clips N] [--json OUT]

Measures, on this machine:

* latency per 4 s clip of each model, backbone and head separately (median of
  ``--repeats`` runs after one warm-up run), in ms, as inference runs them (ONNX
  Runtime, ``config.ONNX_THREADS``); for comparison, each Whisper encoder also in
  PyTorch, on one thread (as ``predict`` ran it before ONNX) and on its default count;
* ``python -m ser predict FILE`` from a cold process: wall and CPU time (median of 3)
  and peak resident memory of that process;
* feature extraction as training does it on a cache miss (decode, trim to speech,
  the registry's backbone) over ``--clips`` clips: clips/s and seconds of audio per second;
* what each reading mode adds to analysing a 4 s clip with every model: ``analyse`` plain,
  adapted to a setting of 10 clips (learning the clip too) and calibrated to a voice, in ms;
* refusing an upload that holds 2 h of 48 kHz stereo silence (a ~1.4 MB FLAC) as too
  long: ``load_audio`` time and the peak resident memory of the process doing it.

Prints a markdown table and writes the numbers as JSON. Clips come from ``--data``
(default $SER_DATA_DIR), else ``examples/``.
A shared machine makes every number noisy: the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import copy
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
TARGET_MODE_EXTRA_MS = 5.0  # what adapting or a voice reference may add per clip
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


def model_latency(models, audio: np.ndarray, repeats: int) -> list[dict]:
    """One row per model: backbone and head ms per clip on ``audio``, as inference runs them."""
    rows = []
    for model in models:
        frames = model.frames(audio)
        rows.append(latency_row(model, runtime(model.backbone), lambda: model.frames(audio),
                                lambda: model.predict_frames(frames), repeats))
    return rows


def runtime(backbone) -> str:
    """What runs a backbone: ONNX Runtime (it holds a session), else its own class."""
    if hasattr(backbone, "session"):
        return f"ONNX Runtime, {threads(backbone.session.get_session_options().intra_op_num_threads)}"
    return type(backbone).__name__


def threads(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


def torch_whisper_latency(models, audio: np.ndarray, repeats: int) -> list[dict]:
    """One row per Whisper model and thread count with its encoder in PyTorch, as inference ran
    it before ONNX Runtime (one thread) and on PyTorch's default count; the head as inference runs it."""
    import torch

    from ser.backbones.whisper import WhisperEncoderBackbone

    default_threads = torch.get_num_threads()
    rows = []
    for model in (m for m in models if m.backbone.kind == "whisper"):
        backbone = WhisperEncoderBackbone(**REGISTRY[model.card.backbone.kind].params)
        frames = backbone.layers(audio)
        for n in sorted({1, default_threads}):
            torch.set_num_threads(n)
            rows.append(latency_row(model, f"PyTorch, {threads(n)}", lambda: backbone.layers(audio),
                                    lambda: model.predict_frames(frames), repeats))
    torch.set_num_threads(default_threads)
    return rows


def latency_row(model, runtime_name: str, backbone_fn, head_fn, repeats: int) -> dict:
    backbone_ms, head_ms = median_ms(backbone_fn, repeats), median_ms(head_fn, repeats)
    return {"model": model.id, "runtime": runtime_name, "backbone_ms": backbone_ms, "head_ms": head_ms,
            "total_ms": backbone_ms + head_ms,
            "target_ms": REGISTRY[model.card.backbone.kind].latency_target_ms}


def mode_overhead(models, audio: np.ndarray, paths: list[Path], repeats: int) -> dict:
    """``analyse`` of ``audio`` with every model in each mode, median ms; the setting holds as
    many clips as the guards judge (``config.GUARD_CLIPS``, up to 10 other clips heard
    in turn), the voice reference is the first of them, the warm-up's takes the first four
    (its guard let through, so that the cost is that of the mode), and what making the
    warm-up costs once."""
    from dataclasses import replace

    from ser import modes
    from ser.inference import analyse, hear, warm_up_reference
    from ser.onnx_heads import clip_statistics
    from ser.reports import read_fusion

    fusion = read_fusion(config.MODELS_DIR)
    others = [four_second_clip(p) for p in paths[1:11]] or [audio]
    setting = modes.Setting()
    for k in range(config.GUARD_CLIPS):
        hear(others[k % len(others)], models, setting)
    # The reference's statistics from one clip (voice_reference pools windows): only the cost counts here.
    voice = modes.VoiceReference({m.id: clip_statistics(m.frames(others[0])) for m in models
                                  if m.can_read(modes.VOICE)}, 0.0)

    takes = dict(zip(config.WARM_UP_PROMPTS, (others * len(config.WARM_UP_PROMPTS))[:len(config.WARM_UP_PROMPTS)]))
    warm_up = warm_up_reference(takes, models)
    warm_up = replace(warm_up, models={k: replace(r, agreement=1.0) for k, r in warm_up.models.items()})

    def adapted():  # a copy each time: learning the clip must not grow the setting run after run
        analyse(audio, models, fusion, setting=copy.deepcopy(setting), learn=True)

    return {"plain_ms": median_ms(lambda: analyse(audio, models, fusion), repeats),
            "adapted_ms": median_ms(adapted, repeats),
            # The voice's guard reads the setting's clips against the reference, as a page does.
            "voice_ms": median_ms(lambda: analyse(audio, models, fusion, voice, setting), repeats),
            "warmed_up_ms": median_ms(lambda: analyse(audio, models, fusion, warm_up), repeats),
            "warm_up_making_ms": median_ms(lambda: warm_up_reference(takes, models), repeats),
            "setting_clips": setting.n_clips, "target_extra_ms": TARGET_MODE_EXTRA_MS}


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


def extraction_throughput(models, paths: list[Path]) -> dict[str, dict]:
    """Training-time feature extraction without the cache (decode, trim, backbone)."""
    from ser.featurestore import load_training_clip

    audio_s = sum(sf.info(p).duration for p in paths)
    results = {}
    for model in models:
        model.frames(load_training_clip(paths[0]))  # warm-up
        start = time.perf_counter()
        for path in paths:
            model.frames(load_training_clip(path))
        elapsed = time.perf_counter() - start
        results[model.backbone.kind] = {"runtime": runtime(model.backbone), "clips": len(paths),
                                        "seconds": elapsed, "clips_per_s": len(paths) / elapsed,
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
             "| model | backbone runs on | backbone ms | head ms | total ms per 4 s clip | target ms | met |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in results["latency"]:
        target = r["target_ms"]
        lines.append(f"| {r['model']} | {r['runtime']} | {r['backbone_ms']:.1f} | {r['head_ms']:.1f} | "
                     f"{r['total_ms']:.1f} | {target if target is not None else ''} | "
                     f"{verdict(r['total_ms'], target)} |")
    p = results["predict"]
    lines += ["",
              "| predict CLI, one file, cold start | wall s | CPU s | peak RSS MB | target s | met (wall) |",
              "|---|---:|---:|---:|---:|---|",
              f"| median of {PREDICT_RUNS} (load average {p['load_average'][0]:.1f} before, "
              f"{p['load_average'][1]:.1f} after) | {p['wall_s']:.2f} | {p['cpu_s']:.2f} | "
              f"{p['peak_rss_mb']:.0f} | {p['target_s']} | {verdict(p['wall_s'], p['target_s'])} |"]
    lines += ["", "| backbone (training extraction) | runs on | clips | clips/s | audio s per s |",
              "|---|---|---:|---:|---:|"]
    for kind, r in results["extraction"].items():
        lines.append(f"| {kind} | {r['runtime']} | {r['clips']} | {r['clips_per_s']:.1f} | "
                     f"{r['audio_s_per_s']:.1f} |")
    m = results["modes"]
    lines += ["", "| analyse a 4 s clip, every model | ms | more than plain | target | met |",
              "|---|---:|---:|---:|---|",
              f"| plain | {m['plain_ms']:.1f} | | | |"]
    labels = {"adapted": f"adapted (a setting of {m['setting_clips']} clips, learning this one)",
              "voice": "calibrated to a voice", "warmed_up": "after a warm-up"}
    for mode, label in labels.items():
        extra = m[f"{mode}_ms"] - m["plain_ms"]
        lines.append(f"| {label} | {m[f'{mode}_ms']:.1f} | {extra:+.1f} | {m['target_extra_ms']:g} | "
                     f"{verdict(extra, m['target_extra_ms'])} |")
    lines.append(f"| making the warm-up (four takes, once per speaker) | {m['warm_up_making_ms']:.1f} | | | |")
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

    from ser.models import load_models  # first: it turns ONNX Runtime's telemetry off before the import

    import onnxruntime

    paths = clip_paths(args.data, args.clips)
    if not paths:
        parser.error("no clips: pass --data DIR or set $SER_DATA_DIR")
    audio = four_second_clip(paths[0])
    with tempfile.TemporaryDirectory() as tmp:
        clip_file = Path(tmp) / "clip.wav"
        sf.write(clip_file, audio, config.SAMPLE_RATE, subtype="PCM_16")
        load_before = os.getloadavg()[0]
        predict = predict_cold_start(args.models, clip_file)  # first, while this process is still small
        predict["load_average"] = [load_before, os.getloadavg()[0]]  # before and after the runs
        long_file = Path(tmp) / "two-hours.flac"
        silent_flac(long_file, LONG_UPLOAD_MIN)
        long_upload = refuse_long_upload(long_file)
    models = load_models(args.models)
    latency = model_latency(models, audio, args.repeats)
    mode_costs = mode_overhead(models, audio, paths, args.repeats)
    extraction = extraction_throughput(models, paths)  # as training runs it
    latency += torch_whisper_latency(models, audio, args.repeats)  # last: it loads PyTorch
    results = {
        "machine": f"{os.cpu_count()} CPUs, onnxruntime {onnxruntime.__version__}, "
                   f"load average {os.getloadavg()[0]:.1f} at the end",
        "clip": str(paths[0]),
        "predict": predict,
        "latency": latency,
        "extraction": extraction,
        "modes": mode_costs,
        "long_upload": long_upload,
    }
    print(markdown(results))
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
