"""Hand-crafted features: log-mel, MFCC (+ deltas), dB spectrogram, as librosa defines them,
computed in numpy.

librosa (with scipy.signal and numba behind it) costs 200 MB of memory and a second at every
start; the few transforms inference needs are short in numpy, and tests/test_features.py
holds them to librosa's own.

All functions take float32 16 kHz mono audio of shape ``(n_samples,)`` and return
arrays with time on the last axis at ``config.HOP_LENGTH`` samples per frame
(100 frames/s). Parameters live in ``ser.config``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ser import config

FRAME_RATE_HZ = config.SAMPLE_RATE / config.HOP_LENGTH
POWER_FLOOR = 1e-10  # librosa's amin for power: the -100 dB floor


def stft(audio: np.ndarray, n_fft: int = config.N_FFT, hop_length: int = config.HOP_LENGTH,
         pad_mode: str = "constant") -> np.ndarray:
    """librosa's centred STFT with a periodic Hann window: complex64 ``(1 + n_fft // 2, n_frames)``,
    frame ``i`` centred on sample ``i * hop_length``, the audio padded by ``n_fft // 2`` each
    side (``pad_mode``: "constant", zeros, librosa's default; or "reflect")."""
    audio = np.asarray(audio, dtype=np.float32)
    padded = np.pad(audio, n_fft // 2, mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    return np.fft.rfft(frames * window, axis=1).T.astype(np.complex64)


def _hz_to_mel(hz):
    """Slaney's mel scale (librosa's default): linear to 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27), linear)


def _mel_to_hz(mels):
    mels = np.asarray(mels, dtype=np.float64)
    return np.where(mels >= 15.0, 1000.0 * np.exp(math.log(6.4) / 27 * (mels - 15.0)), mels * 200.0 / 3)


@functools.cache
def mel_filters(n_mels: int = config.N_MELS, fmin_hz: float = config.FMIN_HZ,
                fmax_hz: float = config.FMAX_HZ, n_fft: int = config.N_FFT) -> np.ndarray:
    """librosa's mel filter bank (Slaney scale, area-normalised triangles), float32
    ``(n_mels, 1 + n_fft // 2)``."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / config.SAMPLE_RATE)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin_hz), _hz_to_mel(fmax_hz), n_mels + 2))
    widths_hz = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising, falling = -ramps[:-2] / widths_hz[:-1, None], ramps[2:] / widths_hz[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.astype(np.float32)


def power_to_db(power: np.ndarray) -> np.ndarray:
    """Power in dB re full scale, floored at -100 dB."""
    return 10.0 * np.log10(np.maximum(power, POWER_FLOOR))


def stft_db(audio: np.ndarray) -> np.ndarray:
    """Magnitude spectrogram in dB re the clip's peak, shape ``(1 + N_FFT // 2, n_frames)``,
    floored 80 dB below the peak."""
    db = power_to_db(np.abs(stft(audio)) ** 2)
    db -= db.max(initial=power_to_db(0.0))
    return np.maximum(db, -80.0)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-mel power spectrogram in dB, shape ``(N_MELS, n_frames)``.

    Referenced to full scale (not the clip's peak) so loudness is kept as a cue.
    """
    return power_to_db(mel_filters() @ (np.abs(stft(audio)) ** 2))


@functools.cache
def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """The orthonormal DCT-II (scipy's ``dct(type=2, norm="ortho")``), its first ``n_out`` rows."""
    k, n = np.arange(n_out)[:, None], np.arange(n_in)[None, :]
    matrix = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


def mfcc(mel_db: np.ndarray) -> np.ndarray:
    """MFCCs of a log-mel spectrogram (``log_mel``), shape ``(N_MFCC, n_frames)``."""
    return _dct_matrix(config.N_MFCC, mel_db.shape[0]) @ mel_db.astype(np.float32)


@functools.cache
def _slope_weights(width: int, order: int) -> np.ndarray:
    """Savitzky-Golay weights: the ``order``-th derivative at the centre of a least-squares
    polynomial of degree ``order`` through ``width`` frames."""
    offsets = np.arange(width) - width // 2
    powers = offsets[:, None] ** np.arange(order + 1)[None, :]
    return math.factorial(order) * np.linalg.pinv(powers)[order]


def _delta(coefficients: np.ndarray, width: int, order: int) -> np.ndarray:
    """librosa's ``feature.delta`` (scipy's ``savgol_filter``, mode "interp"): in the interior,
    the weighted sum over each window; at either edge, the fitted polynomial's derivative,
    which for a derivative of the polynomial's own degree is a constant: the first (last)
    full window's value."""
    windows = np.lib.stride_tricks.sliding_window_view(coefficients.astype(np.float64), width, axis=1)
    inner = windows @ _slope_weights(width, order)
    return np.pad(inner, ((0, 0), (width // 2, width // 2)), mode="edge").astype(coefficients.dtype)


def deltas(coefficients: np.ndarray) -> np.ndarray:
    """First and second time derivatives stacked, shape ``(2 * n_coefficients, n_frames)``."""
    n_frames = coefficients.shape[1]
    width = min(9, n_frames if n_frames % 2 else n_frames - 1)  # librosa needs odd <= n_frames
    if width < 3:  # too few frames to measure a slope
        return np.zeros((2 * coefficients.shape[0], n_frames), coefficients.dtype)
    return np.concatenate([_delta(coefficients, width, k) for k in (1, 2)])


def frame_times_s(n_frames: int, frame_rate_hz: float = FRAME_RATE_HZ) -> np.ndarray:
    """Centre time in seconds of each of ``n_frames`` frames."""
    return np.arange(n_frames) / frame_rate_hz
