"""Hand-crafted features with librosa: log-mel, MFCC (+ deltas), dB spectrogram.

All functions take float32 16 kHz mono audio of shape ``(n_samples,)`` and return
arrays with time on the last axis at ``config.HOP_LENGTH`` samples per frame
(100 frames/s). Parameters live in ``ser.config``.
"""

from __future__ import annotations

import librosa
import numpy as np

from ser import config

FRAME_RATE_HZ = config.SAMPLE_RATE / config.HOP_LENGTH


def stft_db(audio: np.ndarray) -> np.ndarray:
    """Magnitude spectrogram in dB re the clip's peak, shape ``(1 + N_FFT // 2, n_frames)``."""
    magnitude = np.abs(librosa.stft(audio, n_fft=config.N_FFT, hop_length=config.HOP_LENGTH))
    return librosa.amplitude_to_db(magnitude, ref=np.max, top_db=80.0)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-mel power spectrogram in dB, shape ``(N_MELS, n_frames)``.

    Referenced to full scale (not the clip's peak) so loudness is kept as a cue.
    """
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=config.SAMPLE_RATE,
        n_fft=config.N_FFT,
        hop_length=config.HOP_LENGTH,
        n_mels=config.N_MELS,
        fmin=config.FMIN_HZ,
        fmax=config.FMAX_HZ,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)


def mfcc(mel_db: np.ndarray) -> np.ndarray:
    """MFCCs of a log-mel spectrogram (``log_mel``), shape ``(N_MFCC, n_frames)``."""
    return librosa.feature.mfcc(S=mel_db, n_mfcc=config.N_MFCC)


def deltas(coefficients: np.ndarray) -> np.ndarray:
    """First and second time derivatives stacked, shape ``(2 * n_coefficients, n_frames)``."""
    n_frames = coefficients.shape[1]
    width = min(9, n_frames if n_frames % 2 else n_frames - 1)  # librosa needs odd <= n_frames
    if width < 3:  # too few frames to measure a slope
        return np.zeros((2 * coefficients.shape[0], n_frames), coefficients.dtype)
    return np.concatenate([librosa.feature.delta(coefficients, width=width, order=k) for k in (1, 2)])


def frame_times_s(n_frames: int, frame_rate_hz: float = FRAME_RATE_HZ) -> np.ndarray:
    """Centre time in seconds of each of ``n_frames`` frames."""
    return np.arange(n_frames) / frame_rate_hz
