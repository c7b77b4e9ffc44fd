"""LiveRecording: WebRTC-like frames in, 16 kHz mono out, nothing lost between threads."""

import json
import threading
import time
from types import SimpleNamespace

import av
import numpy as np
import pytest
import soundfile as sf

from ser import audio as audio_io
from ser import config, modes
from ser.cards import BackboneInfo, ModelCard
from ser.backbones.mfcc import MfccBackbone
from ser.inference import analyse, voice_reference
from ser.live import LiveRecording, RollingAnalysis, TakeAnalyser, speech_since
from ser.heads import HeadConfig, HeadEnsemble
from ser.models import EmotionModel, load_models
from ser.modes import Setting
from ser.reports import read_fusion

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


def test_a_take_at_its_cap_is_closed_and_keeps_its_start():
    recording = LiveRecording(max_duration_s=1.0)
    recording.push((np.full(12_000, 0.5, np.float32), 16_000, 1))  # 0.75 s
    assert not recording.full
    recording.push((np.ones(8_000, np.float32), 16_000, 1))  # 0.5 s more: 0.25 s of it fits
    assert recording.full and recording.duration_s == 1.0
    audio = recording.take()
    assert len(audio) == config.SAMPLE_RATE
    assert np.all(audio[:12_000] == 0.5) and np.all(audio[12_000:] == 1.0), "the start is kept, in order"
    recording.push(sine_frames(10))
    assert recording.duration_s == 1.0, "a closed take takes nothing more"
    np.testing.assert_array_equal(recording.samples(11_999, 12_001), [0.5, 1.0])
    recording.clear()
    assert not recording.full and recording.duration_s == 0.0


def test_concurrent_push_and_read_lose_nothing():
    recording = LiveRecording()
    frames = sine_frames(500)  # 10 s
    reads, errors = [], []
    done, reading = threading.Event(), threading.Event()

    def producer():
        reading.wait(timeout=10)  # on a busy machine the reader may start late: push alongside it
        for i in range(0, len(frames), 3):  # batches, as the queued callback gets them
            recording.push(frames[i:i + 3])
        done.set()

    def reader():
        try:
            while True:
                finished = done.is_set()  # read once more after the last push
                window = recording.latest(3.0)
                reads.append(len(window))
                reading.set()
                assert window.dtype == np.float32 and len(window) <= 3 * config.SAMPLE_RATE
                recording.take()
                if finished:
                    break
        except AssertionError as err:
            errors.append(err)
            reading.set()

    threads = [threading.Thread(target=producer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors

    reference = LiveRecording()
    reference.push(frames)
    np.testing.assert_array_equal(recording.take(), reference.take())


def tiny_model(backbone=None, model_id: str = "tiny") -> EmotionModel:
    """A real EmotionModel: an untrained head on ``backbone``, by default a stand-in of
    random 4-d frames (of kind "stand-in", which a take analyses whole after STOP)."""
    rng = np.random.default_rng(0)
    backbone = backbone or SimpleNamespace(
        kind="stand-in", frame_rate_hz=100, n_layers=1, dim=4,
        layers=lambda audio: rng.standard_normal((1, max(4, len(audio) // 160), 4)).astype(np.float32))
    head = HeadEnsemble(HeadConfig(n_layers=backbone.n_layers, dim=backbone.dim,
                                   n_classes=len(config.EMOTIONS)), 1).eval()
    card = ModelCard(id=model_id, name="Tiny", labels=list(config.EMOTIONS),
                     backbone=BackboneInfo(backbone.kind, "random", "Tiny", "none", backbone.n_layers,
                                           backbone.dim, backbone.frame_rate_hz),
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


def test_a_live_voice_reads_plain_until_its_windows_read_differently_against_it(make_speech, monkeypatch):
    """The stream as the Live page runs it with the voice calibration on: every window that
    does not overlap the last joins the session's setting, by which the voice's guard judges
    the reference (``inference.Context``)."""
    models = load_models()
    rolling = RollingAnalysis(models)
    rolling.voice = voice_reference([make_speech(12.0, seed=1)], models)
    rolling.setting = Setting(one_by_one=True)  # as the Live page runs it
    first = wait_for_result(rolling, make_speech(3.0, seed=2), 3.0)
    assert first.analysis.mode == "plain"  # one window of the voice: nothing to judge the reference by
    monkeypatch.setattr(modes, "variety", lambda probs: 1.0)  # as if the windows read differently
    second = wait_for_result(rolling, make_speech(3.0, seed=3), 6.0)
    assert second.analysis.mode == "voice" and rolling.setting.n_clips == 2


def record_live(take: np.ndarray, analyser: TakeAnalyser) -> LiveRecording:
    """``take`` pushed as 20 ms frames, the analyser updated after each as the live view would."""
    recording = LiveRecording()
    for start in range(0, len(take), 320):
        recording.push((take[start:start + 320], config.SAMPLE_RATE, 1))
        analyser.update(recording)
    return recording


def assert_same_analysis(got, expected, tolerance: float) -> None:
    assert got.speech == expected.speech and got.duration_s == expected.duration_s
    assert list(got.models) == list(expected.models) and got.lead == expected.lead
    pairs = [(got.models, expected.models)] + [(a.models, b.models) for a, b in zip(got.timeline, expected.timeline)]
    assert len(got.timeline) == len(expected.timeline)
    for ours, theirs in pairs:
        assert list(ours) == list(theirs)
        for model_id in ours:
            np.testing.assert_allclose(list(ours[model_id].probs.values()), list(theirs[model_id].probs.values()),
                                       atol=tolerance, err_msg=model_id)


def test_a_take_analysed_while_recorded_is_the_analysis_of_the_whole_take(make_speech):
    models = [tiny_model(MfccBackbone(), "mfcc"), tiny_model(model_id="whole")]
    silence = np.zeros(int(0.7 * config.SAMPLE_RATE), np.float32)
    take = np.concatenate([silence, make_speech(13.0), silence])  # 14.4 s, speech from 0.7 s
    analyser = TakeAnalyser(models)
    recording = record_live(take, analyser)
    assert analyser.pieces_queued >= 2, "MFCC pieces were queued while the take was recorded"
    got = analyser.finish(recording.take())
    # The stand-in backbone draws random frames: only the MFCC model can be compared.
    expected = analyse(take, models[:1])
    assert_same_analysis(
        type(got)(got.duration_s, got.speech, got.speech_s, {"mfcc": got.models["mfcc"]}, None,
                  [type(w)(w.start_s, w.end_s, w.speech, {"mfcc": w.models["mfcc"]}) for w in got.timeline],
                  got.lead),
        expected, tolerance=1e-3)
    assert "whole" in got.models and len(got.timeline) == len(expected.timeline) == 7


def running_level_backbone() -> SimpleNamespace:
    """A stand-in whose every frame depends on all the audio before it in its input: the
    running mean level since the input's start, in 10 ms frames."""
    def layers(audio):
        level = np.abs(audio[:len(audio) // 160 * 160]).reshape(-1, 160).mean(axis=1)
        running = np.cumsum(level) / np.arange(1, len(level) + 1)
        return np.repeat(running[None, :, None], 4, axis=2).astype(np.float32)
    return SimpleNamespace(kind="stand-in", frame_rate_hz=100, n_layers=1, dim=4, layers=layers)


def test_a_take_whose_speech_starts_elsewhere_is_analysed_from_scratch(make_speech):
    model = tiny_model(running_level_backbone(), "running")
    quiet = 0.01 * make_speech(2.0, seed=1)  # heard as speech until a louder voice comes
    take = np.concatenate([quiet, make_speech(10.0)])
    assert audio_io.speech_span(take[:32_000])[0] < audio_io.speech_span(take)[0] - 1_600, \
        "the test needs a take whose speech start moves as it is recorded"
    analyser = TakeAnalyser([model])
    recording = record_live(take, analyser)
    assert_same_analysis(analyser.finish(recording.take()), analyse(take, [model]), tolerance=1e-6)


def test_a_take_anchored_at_its_speech_matches_a_backbone_that_hears_everything_before(make_speech):
    model = tiny_model(running_level_backbone(), "running")
    take = np.concatenate([np.zeros(8_000, np.float32), make_speech(9.0)])
    analyser = TakeAnalyser([model])
    recording = record_live(take, analyser)
    assert_same_analysis(analyser.finish(recording.take()), analyse(take, [model]), tolerance=1e-6)


def test_a_silent_take_is_no_speech():
    analyser = TakeAnalyser([tiny_model(MfccBackbone(), "mfcc")])
    recording = record_live(np.zeros(6 * config.SAMPLE_RATE, np.float32), analyser)
    assert analyser.pieces_queued == 0
    got = analyser.finish(recording.take())
    assert not got.speech and got.models == {}


def test_shipped_models_give_the_same_take_analysis_live_and_whole():
    """The shipped backbones on a 40 s take of RAVDESS speech: one Whisper piece of 30 s and
    the MFCC and WakeHuBERT pieces are done while recording, the rest after STOP."""
    models, fusion = load_models(), read_fusion()
    clips = sorted(config.EXAMPLES_DIR.glob("*.flac"))
    take = np.concatenate([np.zeros(8_000, np.float32)]
                          + [sf.read(clip, dtype="float32")[0] for clip in clips] * 3)[:40 * config.SAMPLE_RATE]
    trailing = np.full(3 * config.SAMPLE_RATE, 1e-4, np.float32)  # a pause before STOP
    take = np.concatenate([take, trailing])
    analyser = TakeAnalyser(models, fusion)
    recording = record_live(take, analyser)
    assert analyser.pieces_queued > 10
    assert_same_analysis(analyser.finish(recording.take()), analyse(take, models, fusion), tolerance=2e-3)


def test_ice_servers_come_from_the_environment_only(monkeypatch):
    monkeypatch.delenv(config.ICE_SERVERS_ENV, raising=False)
    assert config.ice_servers() == []
    turn = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}]
    monkeypatch.setenv(config.ICE_SERVERS_ENV, json.dumps(turn))
    assert config.ice_servers() == turn


def test_speech_since_a_reading_makes_its_no_speech_stale(make_speech):
    silence = np.zeros(2 * config.SAMPLE_RATE, np.float32)
    assert not speech_since(silence, 1.0)
    # Speech began 1 s ago: a "no speech" reading of the window before it is out of date.
    window = np.concatenate([silence, make_speech(1.0)])
    assert speech_since(window, 1.0) and not speech_since(window[:-config.SAMPLE_RATE], 1.0)
