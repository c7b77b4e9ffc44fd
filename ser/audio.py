"""Audio in: decode any common file to 16 kHz mono float32, or say clearly why not.

Every error a user can cause is an ``AudioError`` whose message is one sentence
fit to show in the app or print from the command line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from ser import config

SAMPLE_RATE = config.SAMPLE_RATE


class AudioError(ValueError):
    """Input that cannot be analysed; ``str(err)`` is the message for the user."""


class NotAudioError(AudioError):
    pass


class EmptyAudioError(AudioError):
    pass


class TooShortError(AudioError):
    pass


class TooLongError(AudioError):
    pass


AudioSource = str | Path | bytes | BinaryIO


def message_for(path: str | Path, err: AudioError) -> str:
    """``err``'s message naming the file at ``path`` once (some messages already name it)."""
    return str(err) if str(path) in str(err) else f"{path}: {err}"


def _read_bytes(source: AudioSource) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"{path} does not exist or is not a file.")
        return path.read_bytes()
    return source.read()


def _decode_soundfile(data: bytes) -> tuple[np.ndarray, int]:
    """WAV/FLAC/OGG (and MP3 where libsndfile has it) -> (float32 (n_samples, n_channels), Hz)."""
    samples, sample_rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples, sample_rate


def _decode_av(data: bytes) -> tuple[np.ndarray, int]:
    """Compressed containers libsndfile cannot read (m4a, webm, mp3) through FFmpeg."""
    import av  # imported here: most input never needs FFmpeg

    chunks = []
    with av.open(io.BytesIO(data)) as container:
        if not container.streams.audio:
            raise NotAudioError("The file has no audio stream.")
        stream = container.streams.audio[0]
        # Resample inside FFmpeg to planar float so every codec arrives alike.
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray()[0])
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray()[0])
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples.astype(np.float32)[:, None], SAMPLE_RATE


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode file bytes to (float32 samples of shape (n_samples, n_channels), rate in Hz)."""
    if not data:
        raise EmptyAudioError("The file is empty.")
    try:
        return _decode_soundfile(data)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        return _decode_av(data)
    except AudioError:
        raise
    except Exception as err:  # FFmpeg raises many error types for unreadable input
        raise NotAudioError(
            "This is not an audio file we can read (wav, flac, ogg, mp3, m4a, webm), or it is damaged."
        ) from err


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Downmix ``(n_samples, n_channels)`` or ``(n_samples,)`` and resample to 16 kHz.

    Returns float32 of shape ``(n_samples_16k,)``.
    """
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    mono = np.asarray(mono, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return mono


def check_duration(audio: np.ndarray, max_duration_s: float = config.MAX_DURATION_S) -> None:
    """Raise a clear error for 16 kHz audio that is empty, too short or too long."""
    duration_s = len(audio) / SAMPLE_RATE
    if len(audio) == 0:
        raise EmptyAudioError("The audio is empty: it holds no samples.")
    if duration_s < config.MIN_DURATION_S:
        raise TooShortError(
            f"The audio is {duration_s:.2f} s long; at least {config.MIN_DURATION_S:g} s is needed."
        )
    if duration_s > max_duration_s:
        raise TooLongError(
            f"The audio is {duration_s:.0f} s long; the limit is {max_duration_s:g} s. "
            "Trim it or raise SER_MAX_DURATION_S."
        )


def load_audio(source: AudioSource, max_duration_s: float = config.MAX_DURATION_S) -> np.ndarray:
    """Load a file, bytes or file object as float32 16 kHz mono, shape ``(n_samples,)``.

    Raises ``AudioError`` (with a message for the user) for input that is not
    audio, corrupt, empty, shorter than ``config.MIN_DURATION_S`` or longer than
    ``max_duration_s`` seconds.
    """
    samples, sample_rate = decode(_read_bytes(source))
    if samples.size == 0:
        raise EmptyAudioError("The file holds no audio samples.")
    if not np.all(np.isfinite(samples)):
        raise NotAudioError("The file is corrupt: it holds samples that are not numbers.")
    audio = to_mono_16k(samples, sample_rate)
    check_duration(audio, max_duration_s)
    return audio


@dataclass(frozen=True)
class SpeechActivity:
    """Where an energy detector hears speech in a clip."""

    speech_s: float  # seconds of frames judged voiced
    mask: np.ndarray  # bool, one per 10 ms hop
    peak_dbfs: float

    @property
    def has_speech(self) -> bool:
        return self.speech_s >= config.VAD_MIN_SPEECH_S


def frame_dbfs(audio: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of 25 ms frames every 10 ms, shape ``(n_frames,)``."""
    frame = int(config.VAD_FRAME_S * SAMPLE_RATE)
    hop = int(config.VAD_HOP_S * SAMPLE_RATE)
    if len(audio) < frame:
        audio = np.pad(audio, (0, frame - len(audio)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def speech_activity(audio: np.ndarray) -> SpeechActivity:
    """Energy-based speech detection on 16 kHz audio.

    A frame counts as speech when it is above an absolute floor and within
    ``config.VAD_RANGE_DB`` of the clip's loud frames, so both digital silence and
    steady room noise read as "no speech".
    """
    levels = frame_dbfs(audio)
    loud = float(np.percentile(levels, 95))
    threshold = max(config.VAD_FLOOR_DBFS, loud - config.VAD_RANGE_DB)
    mask = levels > threshold
    # Steady noise is loud but flat: with little spread, nothing stands out as speech.
    if loud - float(np.percentile(levels, 10)) < 6.0:
        mask = np.zeros_like(mask)
    return SpeechActivity(
        speech_s=float(mask.sum()) * config.VAD_HOP_S, mask=mask, peak_dbfs=loud
    )


def windows(n_samples: int, window_s: float = config.WINDOW_S, hop_s: float = config.HOP_S):
    """Start and end sample of each analysis window over a clip: list of (start, end).

    The last window is aligned to the clip's end so no audio is left out.
    """
    window, hop = int(window_s * SAMPLE_RATE), int(hop_s * SAMPLE_RATE)
    if n_samples <= window:
        return [(0, n_samples)]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return [(s, s + window) for s in starts]


def to_wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes of float audio, for playback and download."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def speech_span(audio: np.ndarray, margin_s: float = 0.1,
                activity: SpeechActivity | None = None) -> tuple[int, int]:
    """Start and end sample from the first to the last speech frame, ``margin_s`` each side.

    ``activity`` is ``speech_activity(audio)`` when the caller already has it. With no
    detected speech the span is the whole clip: the caller decides what "no speech"
    means for it.
    """
    activity = activity or speech_activity(audio)
    voiced = np.flatnonzero(activity.mask)
    if not activity.has_speech or len(voiced) == 0:
        return 0, len(audio)
    hop = int(config.VAD_HOP_S * SAMPLE_RATE)
    margin = int(margin_s * SAMPLE_RATE)
    start = max(0, voiced[0] * hop - margin)
    end = min(len(audio), (voiced[-1] + 1) * hop + int(config.VAD_FRAME_S * SAMPLE_RATE) + margin)
    return int(start), int(end)


def trim_to_speech(audio: np.ndarray) -> np.ndarray:
    """``audio`` cut to its ``speech_span``."""
    start, end = speech_span(audio)
    return audio[start:end]
