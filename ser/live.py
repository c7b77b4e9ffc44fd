"""Live audio: microphone frames kept as 16 kHz mono, and the latest window analysed.

The browser sends WebRTC audio as short frames (typically 20 ms of 48 kHz
stereo 16-bit PCM). ``LiveRecording`` downmixes and resamples each frame as it
arrives and keeps the take, so the app can show the last few seconds while the
stream runs and analyse the whole take when it stops.

Frames are pushed from the media thread and read from the app's thread: every
method is thread-safe. ``RollingAnalysis`` runs the models on the latest window
in the background, so a view refreshing twice a second never waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from ser import config
from ser.inference import ClipAnalysis, analyse
from ser.models import EmotionModel

SAMPLE_RATE = config.SAMPLE_RATE


def _frame_samples(item: Any) -> tuple[np.ndarray, int]:
    """One pushed item -> (samples ``(n_samples, n_channels)``, rate in Hz).

    ``item`` is an ``av.AudioFrame`` (duck-typed: ``ser`` need not import FFmpeg
    bindings to buffer arrays) or a tuple ``(samples, sample_rate, n_channels)``
    whose samples are interleaved ``(n_samples * n_channels,)`` or already
    ``(n_samples, n_channels)``.
    """
    if hasattr(item, "to_ndarray"):
        array = item.to_ndarray()
        n_channels = len(item.layout.channels)
        if item.format.is_planar:  # (n_channels, n_samples)
            samples = array.T
        else:  # packed: (1, n_samples * n_channels), channels interleaved
            samples = array.reshape(-1, n_channels)
        return samples, int(item.sample_rate)
    samples, sample_rate, n_channels = item
    return np.asarray(samples).reshape(-1, int(n_channels)), int(sample_rate)


def _to_float(samples: np.ndarray) -> np.ndarray:
    """Signed integer PCM scaled to [-1, 1); float passed through. float32, same shape."""
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float32) / float(2 ** (8 * samples.dtype.itemsize - 1))
    return samples.astype(np.float32, copy=False)


class LiveRecording:
    """The audio of one take, as float32 16 kHz mono, up to ``max_duration_s``.

    When a take runs longer than ``max_duration_s`` the oldest audio is dropped
    so the live view keeps running; ``dropped_s`` says how much was cut from the
    start. The buffer is allocated in full on the first push
    (``max_duration_s * 16000 * 4`` bytes: 7.7 MB for 120 s).
    """

    def __init__(self, max_duration_s: float = config.MAX_DURATION_S):
        self._capacity = int(max_duration_s * SAMPLE_RATE)
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget the take and the resampler's state, ready for a new take."""
        with self._lock:
            self._buffer: np.ndarray | None = None
            self._written = 0  # samples written since the take began, dropped ones included
            self._resampler: soxr.ResampleStream | None = None
            self._input_rate: int | None = None

    def push(self, frames: Iterable[Any] | Any) -> None:
        """Append audio: an ``av.AudioFrame``, a ``(samples, rate, channels)`` tuple, or a list of either.

        Any rate and channel count; integer samples are read as signed PCM at full scale.
        Resampling is streamed, so consecutive frames join without clicks; the
        resampler holds back its last ~20 ms until more audio arrives.
        """
        if hasattr(frames, "to_ndarray") or isinstance(frames, tuple):
            frames = [frames]
        with self._lock:
            for item in frames:
                samples, rate = _frame_samples(item)
                self._append(self._resample(_to_float(samples).mean(axis=1), rate))

    def _resample(self, mono: np.ndarray, rate: int) -> np.ndarray:
        if rate != self._input_rate:
            # A new rate starts a new stream; the old stream's tail is flushed first.
            if self._resampler is not None:
                self._append(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
            self._resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(
                rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            self._input_rate = rate
        return mono if self._resampler is None else self._resampler.resample_chunk(mono)

    def _append(self, audio: np.ndarray) -> None:
        """Write into the ring buffer; once it is full the oldest samples are overwritten."""
        if len(audio) == 0:
            return
        if self._buffer is None:
            self._buffer = np.zeros(self._capacity, np.float32)
        audio = audio[-self._capacity:]
        start = self._written % self._capacity
        first = min(len(audio), self._capacity - start)
        self._buffer[start:start + first] = audio[:first]
        self._buffer[:len(audio) - first] = audio[first:]
        self._written += len(audio)

    def _last(self, n_samples: int) -> np.ndarray:
        n_samples = min(n_samples, self._written, self._capacity)
        if n_samples == 0:
            return np.zeros(0, np.float32)
        end = self._written % self._capacity
        if end >= n_samples:
            return self._buffer[end - n_samples:end].copy()
        return np.concatenate([self._buffer[end - n_samples:], self._buffer[:end]])

    def latest(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of the take (less if it is shorter): float32 ``(n_samples,)``."""
        with self._lock:
            return self._last(int(seconds * SAMPLE_RATE))

    def take(self) -> np.ndarray:
        """The whole take held (at most ``max_duration_s``): float32 ``(n_samples,)``, a copy."""
        with self._lock:
            return self._last(self._capacity)

    @property
    def duration_s(self) -> float:
        """Seconds of audio held."""
        with self._lock:
            return min(self._written, self._capacity) / SAMPLE_RATE

    @property
    def received_s(self) -> float:
        """Seconds received since the take began, dropped ones included: where "now" is in the take."""
        with self._lock:
            return self._written / SAMPLE_RATE

    @property
    def dropped_s(self) -> float:
        """Seconds cut from the start of a take longer than ``max_duration_s``; 0.0 if none."""
        with self._lock:
            return max(0, self._written - self._capacity) / SAMPLE_RATE


@dataclass(frozen=True)
class WindowResult:
    """The models' reading of one window of a live take."""

    end_s: float  # where the window ends, in seconds from the start of the take
    duration_s: float  # the window's length in seconds
    analysis: ClipAnalysis


# One worker for every session: the models then run one window at a time, so two
# CPU cores stay shared between them and the media and app threads.
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ser-live")


class RollingAnalysis:
    """Analyses the latest window of a live take off the caller's thread.

    Three models on 3 s of audio take 0.5-1.5 s on two CPU cores, longer than
    the 0.5 s between refreshes of a live view: each refresh hands in the
    current window and gets back the newest finished result, while at most one
    analysis for this take is queued or running. Windows handed in meanwhile
    are skipped, so results are never more than one analysis behind.
    """

    def __init__(self, models: list[EmotionModel], fusion: dict | None = None):
        self._models = models
        self._fusion = fusion  # the stacking weights of the fused verdict (reports.read_fusion)
        self.voice: dict | None = None  # the speaker's reference (inference.voice_reference), if any
        self._lock = threading.Lock()
        self._pending: Future | None = None
        self._latest: WindowResult | None = None

    def update(self, window: np.ndarray, end_s: float) -> WindowResult | None:
        """Queue ``window`` (16 kHz ``(n_samples,)`` ending ``end_s`` into the take) unless an
        analysis is pending; return the newest finished result, or None before the first.

        An error raised by the models is raised here, once.
        """
        with self._lock:
            if self._pending is not None and self._pending.done():
                pending, self._pending = self._pending, None
                self._latest = pending.result()
            if self._pending is None and len(window) >= config.MIN_DURATION_S * SAMPLE_RATE:
                self._pending = _EXECUTOR.submit(self._analyse, window, end_s)
            return self._latest

    def _analyse(self, window: np.ndarray, end_s: float) -> WindowResult:
        return WindowResult(end_s, len(window) / SAMPLE_RATE,
                            analyse(window, self._models, self._fusion, self.voice))

    def reset(self) -> None:
        """Forget results, for a new take; an analysis still running finishes unseen."""
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
            self._pending = None
            self._latest = None
