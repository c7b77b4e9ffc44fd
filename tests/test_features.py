"""Hand-crafted features: librosa's, computed in numpy (held to librosa's own here), their
shapes, frame rate and units, and the MFCC backbone built on them."""

import numpy as np
import pytest

from ser import config, features
from ser.backbones import get_backbone

SR = config.SAMPLE_RATE
N_BINS = 1 + config.N_FFT // 2


def sine(freq_hz: float, duration_s: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def n_frames(n_samples: int) -> int:
    """Frames of a centred STFT: one every HOP_LENGTH samples, the first at sample 0."""
    return 1 + n_samples // config.HOP_LENGTH


@pytest.mark.parametrize("duration_s", [0.5, 4.0, 30.0])
def test_shapes_at_100_frames_per_second(duration_s):
    audio = sine(300.0, duration_s)
    t = n_frames(len(audio))
    mel = features.log_mel(audio)
    assert mel.shape == (config.N_MELS, t)
    assert features.mfcc(mel).shape == (config.N_MFCC, t)
    assert features.deltas(features.mfcc(mel)).shape == (2 * config.N_MFCC, t)
    assert features.stft_db(audio).shape == (N_BINS, t)
    assert features.FRAME_RATE_HZ == 100.0
    np.testing.assert_allclose(np.diff(features.frame_times_s(t)), 0.01)


def test_log_mel_is_db_re_full_scale():
    """Loudness is kept: +6 dB per doubling of amplitude; digital silence sits at the -100 dB floor."""
    quiet, loud = features.log_mel(sine(1000.0, amplitude=0.1)), features.log_mel(sine(1000.0, amplitude=0.2))
    band = int(np.argmax(quiet[:, 50]))
    assert loud[band, 50] - quiet[band, 50] == pytest.approx(20 * np.log10(2), abs=0.01)
    assert features.log_mel(np.zeros(SR, np.float32)).max() == pytest.approx(-100.0)


def test_log_mel_peak_band_is_the_tone():
    import librosa

    centres_hz = librosa.mel_frequencies(config.N_MELS + 2, fmin=config.FMIN_HZ, fmax=config.FMAX_HZ)[1:-1]
    band = int(np.argmax(features.log_mel(sine(1000.0))[:, 50]))
    assert abs(centres_hz[band] - 1000.0) < 100.0  # mel bands near 1 kHz are ~100 Hz apart


# Of each array's peak: float32 sums in another order (measured at most 3e-7 of it).
LIBROSA_RELATIVE = 1e-5


@pytest.fixture(scope="module")
def speechy():
    """3.2 s of speech-like audio plus a few samples: not a whole number of hops."""
    from conftest import speech_like

    return speech_like(3.2, seed=4)[: int(3.2 * SR) - 37]


def close_to(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=LIBROSA_RELATIVE * np.abs(theirs).max())


def test_the_features_are_librosas(speechy):
    import librosa

    spectrum = {"n_fft": config.N_FFT, "hop_length": config.HOP_LENGTH}
    close_to(features.stft(speechy), librosa.stft(speechy, **spectrum))
    close_to(features.stft(speechy, pad_mode="reflect"), librosa.stft(speechy, **spectrum, pad_mode="reflect"))
    mel_bank = {"sr": SR, "n_fft": config.N_FFT, "n_mels": config.N_MELS, "fmin": config.FMIN_HZ,
                "fmax": config.FMAX_HZ}
    close_to(features.mel_filters(), librosa.filters.mel(**mel_bank))
    close_to(features.mel_filters(80, 0.0, SR / 2), librosa.filters.mel(sr=SR, n_fft=config.N_FFT, n_mels=80))
    power = librosa.feature.melspectrogram(y=speechy, **spectrum, **{k: v for k, v in mel_bank.items()
                                                                     if k != "n_fft"})
    mel = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)
    close_to(features.log_mel(speechy), mel)
    cepstra = librosa.feature.mfcc(S=mel, n_mfcc=config.N_MFCC)
    close_to(features.mfcc(mel), cepstra)
    for width in (9, 5, 3):  # short clips get narrower windows
        for order in (1, 2):
            part = cepstra[:, : 2 * width]
            close_to(features._delta(part, width, order), librosa.feature.delta(part, width=width, order=order))
    close_to(features.stft_db(speechy),
             librosa.amplitude_to_db(np.abs(librosa.stft(speechy, **spectrum)), ref=np.max, top_db=80.0))


def test_stft_db_is_re_the_clip_peak():
    spectrum = features.stft_db(sine(1000.0))
    assert spectrum.max() == pytest.approx(0.0)
    assert spectrum.min() >= -80.0
    assert int(np.argmax(spectrum[:, 50])) == round(1000.0 * config.N_FFT / SR)  # bin width 40 Hz


def test_deltas_of_a_steady_signal_are_zero_and_of_too_few_frames_too():
    steady = np.tile(np.arange(5, dtype=np.float32)[:, None], (1, 30))
    np.testing.assert_allclose(features.deltas(steady), 0.0, atol=1e-6)
    assert not features.deltas(np.ones((5, 2), np.float32)).any()


def test_deltas_of_a_ramp_is_its_slope():
    ramp = np.tile(np.arange(30, dtype=np.float32), (3, 1)) * 0.5
    first, second = np.split(features.deltas(ramp), 2)
    np.testing.assert_allclose(first, 0.5, atol=1e-5)  # per frame
    np.testing.assert_allclose(second, 0.0, atol=1e-5)


@pytest.mark.parametrize("n_samples", [config.N_FFT, SR // 2, 10 * SR])  # 3 frames and up
def test_mfcc_backbone_layers(n_samples):
    backbone = get_backbone("mfcc")
    audio = sine(220.0, n_samples / SR)
    layers = backbone.layers(audio)
    assert layers.shape == (1, n_frames(n_samples), backbone.dim) == (1, n_frames(n_samples), 124)
    assert layers.dtype == np.float32
    assert np.isfinite(layers).all()
    assert (backbone.n_layers, backbone.frame_rate_hz) == (1, 100.0)
    # Layout per frame: MFCC, their deltas, then the log-mel itself.
    mel = features.log_mel(audio)
    np.testing.assert_allclose(layers[0, :, -config.N_MELS :], mel.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(layers[0, :, : config.N_MFCC], features.mfcc(mel).T, rtol=1e-5, atol=1e-4)
