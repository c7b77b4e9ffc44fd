"""LiveRecording: WebRTC-like frames in, 16 kHz mono out, nothing lost between threads."""

import json
import threading
import time
from types import SimpleNamespace

import av
import numpy as np
import pytest

from ser import config
from ser.cards import BackboneInfo, ModelCard
from ser.live import LiveRecording, RollingAnalysis
from ser.heads import HeadConfig, HeadEnsemble
from ser.models import EmotionModel

RATE_IN = 48_000
FRAME = 960  # 20 ms at 48 kHz, as browsers send it
TONE_HZ = 440.0
AMPLITUDE = 0.5


def sine_frames(n_frames: int, start_frame: int = 0) -> list[av.AudioFrame]:
    """``n_frames`` consecutive 20 ms frames of a 440 Hz sine, 48 kHz stereo packed s16."""
    frames = []
    for i in range(start_frame, start_frame + n_frames):
        t = (np.arange(FRAME) + i * FRAME) / RATE_IN
        mono = (AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)
        interleaved = np.repeat(mono, 2)[None, :]  # (1, FRAME * 2): L R L R ...
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
        frame.sample_rate = RATE_IN
        frames.append(frame)
    return frames


def peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / config.SAMPLE_RATE)[np.argmax(spectrum)])


# The streaming resampler holds back its last ~20 ms until more audio comes.
RESAMPLER_HOLD = int(0.025 * config.SAMPLE_RATE)


def test_frames_become_16k_mono_with_level_and_pitch_kept():
    recording = LiveRecording()
    for frame in sine_frames(100):  # 2 s, one frame per push as the stream delivers them
        recording.push(frame)
    audio = recording.take()
    expected = 2 * config.SAMPLE_RATE
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert expected - RESAMPLER_HOLD <= len(audio) <= expected
    assert recording.duration_s == pytest.approx(len(audio) / config.SAMPLE_RATE)
    steady = audio[1600:-1600]
    assert np.sqrt(np.mean(steady**2)) == pytest.approx(AMPLITUDE / np.sqrt(2), rel=0.01)
    assert peak_hz(steady) == pytest.approx(TONE_HZ, abs=2.0)


def test_streamed_resampling_has_no_seams_between_frames():
    recording = LiveRecording()
    recording.push(sine_frames(50))
    audio = recording.take()[800:-800]
    t = np.arange(len(audio))
    # A pure tone sampled at 16 kHz: every sample is predictable from the two before it.
    w = 2 * np.pi * TONE_HZ / config.SAMPLE_RATE
    residual = audio[2:] - (2 * np.cos(w) * audio[1:-1] - audio[:-2])
    assert np.abs(residual).max() < 1e-3, f"a click at sample {t[np.argmax(np.abs(residual))]}"


def test_arrays_of_any_rate_and_layout_are_accepted():
    recording = LiveRecording()
    t = np.arange(16_000) / 16_000
    tone = (0.25 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    recording.push((tone, 16_000, 1))  # already 16 kHz: kept exactly
    np.testing.assert_array_equal(recording.take(), tone)

    recording.clear()
    assert recording.duration_s == 0.0 and len(recording.take()) == 0
    t44 = np.arange(44_100) / 44_100
    stereo = np.stack([np.sin(2 * np.pi * 300 * t44)] * 2, axis=1)  # (n, 2) float64
    recording.push([(stereo, 44_100, 2)])
    audio = recording.take()
    assert abs(len(audio) - 16_000) <= RESAMPLER_HOLD
    assert peak_hz(audio[800:-800]) == pytest.approx(300, abs=2.0)


def test_latest_is_the_rolling_window():
    recording = LiveRecording()
    recording.push(sine_frames(250))  # 5 s
    window = recording.latest(3.0)
    assert len(window) == 3 * config.SAMPLE_RATE
    np.testing.assert_array_equal(window, recording.take()[-len(window):])
    assert len(recording.latest(30.0)) == len(recording.take())


def test_a_take_longer_than_the_limit_keeps_its_end_and_says_so():
    recording = LiveRecording(max_duration_s=1.0)
    recording.push(sine_frames(50))  # 1 s fills it
    assert recording.dropped_s == 0.0
    recording.push((np.ones(8_000, np.float32), 16_000, 1))  # 0.5 s more at the native rate
    audio = recording.take()
    assert len(audio) == config.SAMPLE_RATE
    assert recording.duration_s == 1.0
    assert recording.dropped_s == pytest.approx(0.5, abs=0.02)
    assert recording.received_s == recording.duration_s + recording.dropped_s
    assert np.all(audio[-8_000:] == 1.0), "the newest audio is kept, in order"
    assert recording.latest(0.25).tolist() == [1.0] * 4_000


def test_concurrent_push_and_read_lose_nothing():
    recording = LiveRecording()
    frames = sine_frames(500)  # 10 s
    reads, errors = [], []
    done = threading.Event()

    def producer():
        for i in range(0, len(frames), 3):  # batches, as the queued callback gets them
            recording.push(frames[i:i + 3])
        done.set()

    def reader():
        try:
            while not done.is_set():
                window = recording.latest(3.0)
                reads.append(len(window))
                assert window.dtype == np.float32 and len(window) <= 3 * config.SAMPLE_RATE
                recording.take()
        except AssertionError as err:
            errors.append(err)

    threads = [threading.Thread(target=producer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert reads, "the reader never ran"

    reference = LiveRecording()
    reference.push(frames)
    np.testing.assert_array_equal(recording.take(), reference.take())


def tiny_model() -> EmotionModel:
    """A real EmotionModel: an untrained head on a stand-in backbone of random 4-d frames."""
    rng = np.random.default_rng(0)
    backbone = SimpleNamespace(
        frame_rate_hz=100,
        layers=lambda audio: rng.standard_normal((1, max(4, len(audio) // 160), 4)).astype(np.float32))
    head = HeadEnsemble(HeadConfig(n_layers=1, dim=4, n_classes=len(config.EMOTIONS)), 1).eval()
    card = ModelCard(id="tiny", name="Tiny", labels=list(config.EMOTIONS),
                     backbone=BackboneInfo("stand-in", "random", "Tiny", "none", 1, 4, 100.0),
                     head={}, training={})
    return EmotionModel(card, head, backbone)


def wait_for_result(rolling, window, end_s):
    deadline = time.monotonic() + 10
    while (result := rolling.update(window, end_s)) is None or result.end_s != end_s:
        assert time.monotonic() < deadline, "no result within 10 s"
        time.sleep(0.01)
    return result


def test_rolling_analysis_answers_in_the_background():
    rolling = RollingAnalysis([tiny_model()])
    t = np.arange(3 * config.SAMPLE_RATE) / config.SAMPLE_RATE
    bursts = (0.3 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)).astype(np.float32)
    assert rolling.update(bursts[:4_000], 0.25) is None, "shorter than MIN_DURATION_S: not analysed"

    spoken = wait_for_result(rolling, bursts, 3.0)
    assert spoken.duration_s == 3.0 and spoken.analysis.speech
    assert list(spoken.analysis.models) == ["tiny"] and spoken.analysis.fused.label in config.EMOTIONS

    silent = wait_for_result(rolling, np.zeros_like(bursts), 6.0)
    assert not silent.analysis.speech and silent.analysis.models == {}

    rolling.reset()
    assert rolling.update(np.zeros(0, np.float32), 0.0) is None


def test_ice_servers_come_from_the_environment_only(monkeypatch):
    monkeypatch.delenv(config.ICE_SERVERS_ENV, raising=False)
    assert config.ice_servers() == []
    turn = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}]
    monkeypatch.setenv(config.ICE_SERVERS_ENV, json.dumps(turn))
    assert config.ice_servers() == turn
