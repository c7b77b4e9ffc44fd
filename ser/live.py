"""Live audio: microphone frames kept as 16 kHz mono, the latest window analysed, and
the whole take analysed while it is recorded.

The browser sends WebRTC audio as short frames (typically 20 ms of 48 kHz
stereo 16-bit PCM). ``LiveRecording`` downmixes and resamples each frame as it
arrives and keeps the take, so the app can show the last few seconds while the
stream runs and analyse the whole take when it stops.

Frames are pushed from the media thread and read from the app's thread: every
method is thread-safe. ``RollingAnalysis`` runs the models on the latest window
in the background, so a view refreshing twice a second never waits for them;
``TakeAnalyser`` runs the backbones on each finished stretch of the take, so that
after STOP only the last few seconds are left to compute.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from ser import audio as audio_io
from ser import config
from ser.inference import ClipAnalysis, analyse, analyse_frames
from ser.models import EmotionModel
from ser.modes import Setting, VoiceReference, WarmUp

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

    A take that reaches ``max_duration_s`` is closed: ``full`` turns True and later
    audio is left out, so the take keeps its start and every sample keeps its place
    (``TakeAnalyser`` relies on that). The buffer is allocated in full on the first
    push (``max_duration_s * 16000 * 4`` bytes: 7.7 MB for 120 s).
    """

    def __init__(self, max_duration_s: float = config.MAX_DURATION_S):
        self._capacity = int(max_duration_s * SAMPLE_RATE)
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget the take and the resampler's state, ready for a new take."""
        with self._lock:
            self._buffer: np.ndarray | None = None
            self._written = 0  # samples held, from the take's start
            self._full = False
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
        """Write after the samples held; what does not fit closes the take and is left out."""
        if len(audio) == 0 or self._full:
            return
        if self._buffer is None:
            self._buffer = np.zeros(self._capacity, np.float32)
        kept = audio[:self._capacity - self._written]
        self._buffer[self._written:self._written + len(kept)] = kept
        self._written += len(kept)
        self._full = len(kept) < len(audio) or self._written == self._capacity

    def samples(self, start: int, end: int) -> np.ndarray:
        """Samples ``start`` to ``end`` of the take (fewer if it is shorter): float32, a copy."""
        with self._lock:
            end = min(end, self._written)
            return self._buffer[start:end].copy() if self._buffer is not None and end > start \
                else np.zeros(0, np.float32)

    def latest(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of the take (less if it is shorter): float32 ``(n_samples,)``."""
        with self._lock:
            end = self._written
        return self.samples(max(0, end - int(seconds * SAMPLE_RATE)), end)

    def take(self) -> np.ndarray:
        """The whole take: float32 ``(n_samples,)``, a copy."""
        return self.samples(0, self._capacity)

    @property
    def n_samples(self) -> int:
        """Samples held, at 16 kHz."""
        with self._lock:
            return self._written

    @property
    def duration_s(self) -> float:
        """Seconds of audio held."""
        return self.n_samples / SAMPLE_RATE

    @property
    def full(self) -> bool:
        """Whether the take reached ``max_duration_s`` and was closed."""
        with self._lock:
            return self._full


@dataclass(frozen=True)
class WindowResult:
    """The models' reading of one window of a live take."""

    end_s: float  # where the window ends, in seconds from the start of the take
    duration_s: float  # the window's length in seconds
    analysis: ClipAnalysis


def speech_since(window: np.ndarray, since_s: float) -> bool:
    """Whether the last ``since_s`` seconds of ``window`` (16 kHz ``(n_samples,)``) hold speech:
    while they do, a reading of "no speech" from before them is out of date, not the news."""
    return audio_io.speech_activity(window[-max(1, int(since_s * SAMPLE_RATE)):]).has_speech


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
        # The speaker's plain voice or acted warm-up (inference.voice_reference, warm_up_reference).
        self.voice: VoiceReference | WarmUp | None = None
        # The session's setting (modes.Setting), when the visitor adapts to it: every window that
        # does not overlap the last one added joins it, and each is read among those before it.
        self.setting: Setting | None = None
        self._heard_to_s = -np.inf  # where the last window added to the setting ended, in the take
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
        duration_s = len(window) / SAMPLE_RATE
        learn = self.setting is not None and end_s - duration_s >= self._heard_to_s
        if learn:
            self._heard_to_s = end_s
        return WindowResult(end_s, duration_s,
                            analyse(window, self._models, self._fusion, self.voice, self.setting, learn))

    def reset(self) -> None:
        """Forget results, for a new take; an analysis still running finishes unseen."""
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
            self._pending = None
            self._latest = None
            self._heard_to_s = -np.inf


@dataclass(frozen=True)
class _Pieces:
    """How one model's backbone hears a take: pieces of ``length`` samples from the speech
    start, each with ``context`` samples either side (none before the speech)."""

    length: int | None  # None: the whole take, after STOP
    context: int = 0


class TakeAnalyser:
    """Analyses a live take while it is recorded, so that STOP only has its tail left to do.

    ``inference.analyse`` runs each backbone once, from the first speech of a clip to its
    end. So does this, in pieces: once the take holds speech (``update``), each backbone
    runs on pieces of the take from where the speech starts (``config.BACKBONE_PIECES``: 4 s
    for MFCC and WakeHuBERT, heard with the audio around them; 30 s for Whisper, which
    cuts its input into 30 s windows itself), on the shared background worker, as soon as
    a piece and its context have arrived. ``finish`` runs what is left, joins the frames and
    pools them as ``analyse`` does (``inference.analyse_frames``): the same ``ClipAnalysis``,
    with the clip's readings and the per-window timeline.

    How it differs from ``analyse`` of the whole take: nil, up to float rounding, as long as
    the whole take's speech starts where the first speech was heard (tests/test_live.py
    compares the two on RAVDESS speech). When it starts more than ``ANCHOR_TOLERANCE_S``
    away (a louder voice later can make earlier sounds count as background), ``finish``
    analyses the take from scratch instead. The saving is the pieces done before STOP: at
    most the last 4 s (MFCC, WakeHuBERT) and the last 30 s (Whisper) are left.
    """

    ANCHOR_TOLERANCE_S = 0.02  # two speech-detector hops

    def __init__(self, models: list[EmotionModel], fusion: dict | None = None):
        self._models = models
        self._fusion = fusion  # the stacking weights of the fused verdict (reports.read_fusion)
        self._pieces = {}
        for model in models:
            self._pieces[model.id] = _Pieces(*model.pieces) if model.pieces else _Pieces(None)
        self._lock = threading.Lock()
        self._origin: int | None = None  # the sample where the speech starts: the first piece starts here
        self._done: dict[str, list[Future]] = {m.id: [] for m in models}  # each: frames of one piece

    def reset(self) -> None:
        """Forget the take, for a new one; pieces being analysed finish unseen."""
        with self._lock:
            for futures in self._done.values():
                for future in futures:
                    future.cancel()
            self._origin = None
            self._done = {m.id: [] for m in self._models}

    @property
    def pieces_queued(self) -> int:
        """Pieces handed to the background worker so far, all models together."""
        with self._lock:
            return sum(len(futures) for futures in self._done.values())

    def update(self, recording: LiveRecording) -> None:
        """Queue every piece of ``recording`` whose audio, context included, has arrived.
        Cheap: call it on every refresh of the live view."""
        with self._lock:
            if self._origin is None:
                # Until the first speech, the take so far is checked as analyse would check it.
                take = recording.take()
                if not audio_io.speech_activity(take).has_speech:
                    return
                self._origin = audio_io.speech_span(take)[0]
            for model in self._models:
                futures = self._done[model.id]
                while (span := self._piece(model.id, len(futures))) and span[2] <= recording.n_samples:
                    first, start, end = span
                    futures.append(_EXECUTOR.submit(model.frames_of_piece, recording.samples(first, end),
                                                    start - first, self._pieces[model.id].length))

    def _piece(self, model_id: str, k: int) -> tuple[int, int, int] | None:
        """Piece ``k`` of a model with its context: (first sample, piece start, last sample + 1);
        None for a model that runs on the whole take."""
        pieces = self._pieces[model_id]
        if pieces.length is None:
            return None
        start = self._origin + k * pieces.length
        return max(self._origin, start - pieces.context), start, start + pieces.length + pieces.context

    def finish(self, take: np.ndarray, voice: VoiceReference | WarmUp | None = None,
               setting: Setting | None = None) -> ClipAnalysis:
        """The analysis of ``take``, the recording's whole take (16 kHz ``(n_samples,)``):
        waits for the queued pieces and computes the rest on the caller's thread.
        ``voice`` and ``setting`` as in ``inference.analyse`` (the setting already heard the
        take's windows live, so it does not learn the take again)."""
        with self._lock:
            origin, done = self._origin, {k: list(v) for k, v in self._done.items()}
        activity = audio_io.speech_activity(take)
        speech_start, speech_end = audio_io.speech_span(take, activity=activity)
        if (origin is None or not activity.has_speech
                or abs(speech_start - origin) > self.ANCHOR_TOLERANCE_S * SAMPLE_RATE):
            for futures in done.values():
                for future in futures:
                    future.cancel()
            return analyse(take, self._models, self._fusion, voice, setting)
        speech = take[:speech_end]  # analyse hears nothing after the speech either
        frames = {}
        for model in self._models:
            parts = []
            for k, future in enumerate(done[model.id]):
                first, start, end = self._piece(model.id, k)
                if end > speech_end:  # heard audio after the speech: redone below from its start
                    future.cancel()
                    break
                if future.cancel():  # still queued behind other work: do it here rather than wait
                    parts.append(model.frames_of_piece(speech[first:end], start - first,
                                                       self._pieces[model.id].length))
                else:
                    parts.append(future.result())
            span = self._piece(model.id, len(parts))
            first, start = (span[0], span[1]) if span else (origin, origin)
            if speech_end > start:
                parts.append(model.frames_of_piece(speech[first:], start - first, None))
            frames[model.id] = np.concatenate(parts, axis=1)
        return analyse_frames(take, frames, origin, self._models, self._fusion, voice, setting)
