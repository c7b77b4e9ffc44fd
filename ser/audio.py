"""Audio in: decode any common file to 16 kHz mono float32, or say clearly why not.

Every error a user can cause is an ``AudioError`` whose message is one sentence
fit to show in the app or print from the command line.

A file's cost is bounded by the longest clip allowed, not by what it holds: a header
that states the length is checked before any sample is decoded, and the samples are
read, downmixed and resampled block by block, stopping as soon as they run past the
limit, so a small file that holds (or claims) hours costs no more than one that holds
the limit.

Whatever values a file's samples hold, what comes out can be analysed: samples that are
not numbers, or beyond ``config.MAX_SAMPLE_PEAK`` times full scale, refuse the file; float
samples past full scale but within that are clipped to it, as a player plays them;
subnormal values are flushed to zero and a DC offset is removed.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from ser import config

SAMPLE_RATE = config.SAMPLE_RATE
BLOCK_SAMPLES = 1 << 17  # samples (all channels) decoded per step: 512 KiB as float32
SF_UNKNOWN_FRAMES = 2**63 - 1  # libsndfile's frame count when the header leaves the length open
# libsndfile guesses an MP3's length from its first frame's bitrate when there is no
# Xing header, so a variable-bitrate file can claim many times its length.
GUESSED_LENGTH_FORMATS = frozenset({"MP3"})
NOT_AUDIO_MESSAGE = ("This is not an audio file we can read (wav, flac, ogg, mp3, m4a, webm), "
                     "or it is damaged.")


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


def spoken_duration(seconds: float) -> str:
    """A length as a presenter would say it: "1.5 s", "2 min", "2 min 30 s", "2 h 0 min".

    Rounded up to the unit shown, so a clip just past a limit never reads as the limit.
    """
    if seconds < 60:
        return f"{math.ceil(seconds * 10) / 10:g} s"
    if seconds < 3600:
        minutes, rest_s = divmod(math.ceil(seconds), 60)
        return f"{minutes} min {rest_s} s" if rest_s else f"{minutes} min"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours} h {minutes} min"


def too_long_error(max_duration_s: float, duration_s: float | None = None) -> TooLongError:
    """The error for audio over ``max_duration_s`` seconds; ``duration_s`` when the length is known."""
    limit = spoken_duration(max_duration_s)
    if duration_s is None:  # decoding stopped at the limit, so the full length is never learnt
        return TooLongError(f"This recording is longer than {limit}, the most the studio analyses. "
                            "Trim it and try again.")
    return TooLongError(f"This recording is {spoken_duration(duration_s)} long; the studio analyses "
                        f"up to {limit}. Trim it and try again.")


def _open(source: AudioSource) -> BinaryIO:
    """``source`` as a seekable binary file.

    A path is opened rather than read, so a huge file on disk costs no memory.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"{path} does not exist or is not a file.")
        if path.stat().st_size == 0:
            raise EmptyAudioError("The file is empty.")
        return path.open("rb")
    data = source if isinstance(source, bytes) else source.read()
    if not data:
        raise EmptyAudioError("The file is empty.")
    return io.BytesIO(data)


def _collect(blocks: Iterator[np.ndarray], sample_rate: int, max_duration_s: float) -> np.ndarray:
    """Downmix and resample float32 blocks ``(n_frames, n_channels)`` at ``sample_rate`` Hz
    into 16 kHz mono float32 ``(n_samples,)``.

    Raises ``TooLongError`` once the blocks pass ``max_duration_s`` seconds, so at most
    one block more than the limit is ever decoded.
    """
    resampler = None if sample_rate == SAMPLE_RATE else soxr.ResampleStream(
        sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    pieces, n_frames = [], 0
    for block in blocks:
        n_frames += len(block)
        if n_frames > max_duration_s * sample_rate:
            raise too_long_error(max_duration_s)
        _bound(block)
        mono = block.mean(axis=1, dtype=np.float32)
        pieces.append(resampler.resample_chunk(mono) if resampler else mono)
    if n_frames == 0:
        raise EmptyAudioError("The file holds no audio samples.")
    if resampler:  # the resampler holds back its last few ms until told the input ended
        pieces.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    return _tidy(np.concatenate(pieces))


def _bound(block: np.ndarray) -> None:
    """Refuse ``block`` when a sample is not a number or is absurdly loud; else clip it to
    full scale in place.

    Float files may hold samples past full scale (headroom); a player clips them, and so
    does this. Far past it (``config.MAX_SAMPLE_PEAK``) a file is damaged or was written
    unscaled (int16 values stored as float), and its squares would overflow the features.
    """
    if not block.size:
        return
    peak = float(np.max(np.abs(block)))
    if not math.isfinite(peak):  # NaN or infinity anywhere makes the peak one too
        raise NotAudioError("The file is corrupt: it holds samples that are not numbers.")
    if peak > config.MAX_SAMPLE_PEAK:
        raise NotAudioError(f"The file's samples reach {peak:.3g} times full scale: it is damaged or "
                            "was saved without scaling its samples to ±1. Normalise it and try again.")
    if peak > 1.0:
        np.clip(block, -1.0, 1.0, out=block)


def _tidy(audio: np.ndarray) -> np.ndarray:
    """16 kHz mono ``audio`` without subnormal values (they slow every float operation down
    many times, and are silence) and without a DC offset (inaudible, but it drowns the
    level differences the speech detector listens for), in place."""
    audio[np.abs(audio) < np.finfo(np.float32).tiny] = 0.0
    audio -= audio.mean(dtype=np.float64)
    return audio


def _header_duration_s(file: sf.SoundFile) -> float | None:
    """The length in seconds that ``file``'s header states, or None where it only guesses."""
    if file.frames >= SF_UNKNOWN_FRAMES or file.format in GUESSED_LENGTH_FORMATS:
        return None
    return file.frames / file.samplerate


def _soundfile_blocks(file: sf.SoundFile) -> Iterator[np.ndarray]:
    """``file``'s samples as float32 blocks ``(n_frames, n_channels)`` of ~``BLOCK_SAMPLES`` samples."""
    frames = max(1, BLOCK_SAMPLES // file.channels)
    while len(block := file.read(frames, dtype="float32", always_2d=True)):
        yield block


def _load_soundfile(stream: BinaryIO, max_duration_s: float) -> np.ndarray:
    """WAV/FLAC/OGG/MP3 through libsndfile -> 16 kHz mono float32 ``(n_samples,)``."""
    with sf.SoundFile(stream) as file:
        duration_s = _header_duration_s(file)
        if duration_s is not None and duration_s > max_duration_s:
            raise too_long_error(max_duration_s, duration_s)
        return _collect(_soundfile_blocks(file), file.samplerate, max_duration_s)


def _av_blocks(container) -> Iterator[np.ndarray]:
    """The first audio stream of a PyAV ``container`` as 16 kHz mono float32 blocks ``(n_frames, 1)``."""
    import av  # imported here: most input never needs FFmpeg

    # Resample inside FFmpeg to planar float so every codec arrives alike.
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
    # Frame by frame, then None to flush what the resampler holds back.
    for frame in itertools.chain(container.decode(container.streams.audio[0]), [None]):
        for out in resampler.resample(frame):
            yield out.to_ndarray().T


def _load_av(stream: BinaryIO, max_duration_s: float) -> np.ndarray:
    """Containers libsndfile cannot read (m4a, webm) through FFmpeg -> 16 kHz mono float32.

    Their headers are not trusted for the length (a webm from a browser states none):
    decoding stops at the limit instead.
    """
    import av

    with av.open(stream) as container:
        if not container.streams.audio:
            raise NotAudioError("The file has no audio stream.")
        return _collect(_av_blocks(container), SAMPLE_RATE, max_duration_s)


def _decode(stream: BinaryIO, max_duration_s: float) -> np.ndarray:
    """Any supported file -> 16 kHz mono float32 ``(n_samples,)``, libsndfile first, then FFmpeg."""
    try:
        return _load_soundfile(stream, max_duration_s)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        stream.seek(0)  # libsndfile cannot read it (or failed part-way): FFmpeg starts afresh
    try:
        return _load_av(stream, max_duration_s)
    except AudioError:
        raise
    except Exception as err:  # FFmpeg raises many error types for unreadable input
        raise NotAudioError(NOT_AUDIO_MESSAGE) from err


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
        raise too_long_error(max_duration_s, duration_s)


def load_audio(source: AudioSource, max_duration_s: float = config.MAX_DURATION_S) -> np.ndarray:
    """Load a file, bytes or file object as float32 16 kHz mono, shape ``(n_samples,)``.

    Raises ``AudioError`` (with a message for the user) for input that is not
    audio, corrupt, empty, shorter than ``config.MIN_DURATION_S`` or longer than
    ``max_duration_s`` seconds. Memory stays within a few times that of
    ``max_duration_s`` seconds of 16 kHz audio whatever the file holds or claims.
    """
    with _open(source) as stream:
        audio = _decode(stream, max_duration_s)
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
