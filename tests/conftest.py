"""Shared fixtures: the data folders named by $SER_DATA_DIR and $SER_CORPORA_DIR, and audio.

Without the folder the full-data tests skip; with $SER_REQUIRE_DATA=1 (as CI sets) a
missing folder fails them instead, so CI can never pass by skipping.
"""

import os

import numpy as np
import pytest
import soundfile as sf

from ser import config as ser_config

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".webm")


def _required_folder(path, reason: str):
    if path is None:
        if os.environ.get("SER_REQUIRE_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def ravdess_dir():
    """The RAVDESS folder (``pathlib.Path``) from $SER_DATA_DIR."""
    return _required_folder(ser_config.data_dir(),
                            f"${ser_config.DATA_DIR_ENV} is unset or not a folder: set it to a RAVDESS "
                            "folder (e.g. ravdess-16k) to run the full-data tests")


@pytest.fixture(scope="session")
def corpora_dir():
    """The folder of corpora (``pathlib.Path``) from $SER_CORPORA_DIR."""
    return _required_folder(ser_config.corpora_dir(),
                            f"${ser_config.CORPORA_DIR_ENV} is unset or not a folder: set it to the folder "
                            "holding ravdess-16k, ased-16k and emovo-16k to run the multi-corpus tests")


def speech_like(duration_s: float, seed: int = 0, f0_hz: float = 150.0) -> np.ndarray:
    """Float32 16 kHz mono audio the energy detector hears as speech, shape ``(n_samples,)``.

    Voiced "syllables" (a harmonic tone around ``f0_hz`` with a slow pitch glide,
    ~0.2 s each at ~3 per second) separated by pauses, over faint noise, so the level
    has the spread of speech rather than of steady noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * ser_config.SAMPLE_RATE)) / ser_config.SAMPLE_RATE
    f0 = f0_hz * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / ser_config.SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, np.pi)), 0, None) ** 2
    noise = 1e-3 * rng.standard_normal(t.size)
    return (0.15 * voiced * syllables + noise).astype(np.float32)


@pytest.fixture(scope="session")
def make_speech():
    """``speech_like``, for tests that synthesise their own clips."""
    return speech_like


@pytest.fixture(scope="session")
def example_clip(tmp_path_factory):
    """An audio file to analyse: the first clip in examples/, else 3 s of ``speech_like`` as WAV."""
    shipped = sorted(p for p in ser_config.EXAMPLES_DIR.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if shipped:
        return shipped[0]
    path = tmp_path_factory.mktemp("example") / "speech_like.wav"
    sf.write(path, speech_like(3.0), ser_config.SAMPLE_RATE, subtype="PCM_16")
    return path
