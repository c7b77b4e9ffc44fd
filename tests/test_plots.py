"""The figures of ser.plots: shapes, orders and gaps, without running any model."""

import numpy as np
import pandas as pd

from ser import config, plots
from ser.inference import ClipAnalysis, Prediction, WindowPrediction


def prediction(label: str) -> Prediction:
    probs = {e: 0.3 / (len(config.EMOTIONS) - 1) for e in config.EMOTIONS}
    probs[label] = 0.7
    return Prediction(probs)


def test_signal_figure_stays_light_for_a_two_minute_clip():
    audio = (0.1 * np.random.default_rng(0).standard_normal(120 * config.SAMPLE_RATE)).astype(np.float32)
    fig = plots.signal_figure(audio)
    waveform, spectrogram, mfcc = fig.data[1], fig.data[2], fig.data[3]
    assert len(waveform.x) <= plots.WAVEFORM_POINTS
    assert np.asarray(spectrogram.z).shape[1] <= plots.HEATMAP_COLUMNS
    assert np.asarray(spectrogram.y)[-1] == config.FMAX_HZ  # y in Hz up to Nyquist
    assert np.asarray(mfcc.z).shape[0] == config.N_MFCC
    assert abs(np.asarray(spectrogram.x)[-1] - 120) < 1  # the time axis is in seconds


def test_waveform_envelope_keeps_the_extremes():
    audio = np.zeros(100_000, np.float32)
    audio[12_345] = 0.9
    audio[54_321] = -0.8
    _, lower, upper = plots.waveform_envelope(audio, n_points=500)
    assert upper.max() == np.float32(0.9) and lower.min() == np.float32(-0.8)


def test_probabilities_figure_shows_one_reading_in_emotion_order():
    fig = plots.probabilities_figure(prediction("sad"), "MFCC")
    [bars] = fig.data
    assert list(bars.y) == list(config.EMOTIONS)
    assert list(bars.marker.color) == [config.EMOTION_COLOURS[e] for e in config.EMOTIONS]
    assert fig.layout.title.text == "MFCC"
    assert fig.layout.xaxis.tickangle == 0  # labels stay horizontal however narrow the panel
    assert bars.opacity == 1.0
    unsure = Prediction(prediction("sad").probs, unsure=True)
    assert plots.probabilities_figure(unsure, "MFCC").data[0].opacity < 1.0  # an unsure reading looks faded


def test_silence_sits_at_the_dark_low_end_of_the_spectrogram_and_neutral_in_the_mfcc():
    rng = np.random.default_rng(0)
    for silent in (np.zeros(2 * config.SAMPLE_RATE, np.float32),
                   (1e-6 * rng.standard_normal(2 * config.SAMPLE_RATE)).astype(np.float32)):  # dithered
        fig = plots.signal_figure(silent)
        spectrogram, mfcc = fig.data[2], fig.data[3]
        low_end = spectrogram.zmin + 0.1 * (spectrogram.zmax - spectrogram.zmin)
        assert np.asarray(spectrogram.z).max() <= low_end  # the bottom tenth of the dB scale
        assert spectrogram.colorscale[0][1] == "#000000"  # ... which is black
        assert np.abs(np.asarray(mfcc.z)).max() < 0.05 * mfcc.zmax  # the diverging scale's white centre
        assert mfcc.zmid == 0


def test_speech_fills_the_spectrogram_scale(make_speech):
    z = np.asarray(plots.signal_figure(make_speech(2.0)).data[2].z)
    assert z.max() > -3 and z.min() <= -plots.SPECTROGRAM_RANGE_DB + 1  # referenced to the clip's peak


def test_timeline_figure_leaves_no_speech_windows_empty():
    windows = [WindowPrediction(0.0, 4.0, True, {}, prediction("sad")),
               WindowPrediction(2.0, 6.0, False),
               WindowPrediction(4.0, 8.0, True, {}, prediction("happy"))]
    analysis = ClipAnalysis(8.0, True, 6.0, {}, prediction("sad"), windows)
    fig = plots.timeline_figure(analysis)
    sad = next(trace for trace in fig.data if trace.name == "sad")
    assert sad.y[1] is None and sad.y[0] > 0.5
    assert next(trace for trace in fig.data if trace.name == "no speech").x == (4.0,)
    assert sum(sad.width) == 8.0  # the bars tile the clip
    assert plots.timeline_figure(ClipAnalysis(3.0, True, 2.0, {}, prediction("sad"), [])) is None


def test_report_figures():
    labels = list(config.EMOTIONS)
    report = {"labels": labels, "confusion": (np.eye(8, dtype=int) * 3 + 1).tolist(),
              "per_class_recall": {e: 0.75 for e in labels}, "per_actor_accuracy": {"01": 0.5, "02": 0.7}}
    confusion = plots.confusion_figure(report, "MFCC")
    assert np.allclose(np.asarray(confusion.data[0].z).sum(axis=1), 1.0)  # rows are shares of the true class
    assert list(plots.per_class_recall_figure({"mfcc": report}).data[0].y) == labels  # rows: labels stay apart
    assert list(plots.per_actor_figure({"mfcc": report}).data[0].x) == ["01", "02"]


def test_class_balance_figure_keeps_the_emotion_order():
    clips = pd.DataFrame({"emotion": ["sad", "neutral", "sad"], "actor": [2, 1, 2]})
    emotions = plots.class_balance_figure(clips, "emotion")
    assert list(emotions.data[0].y) == list(config.EMOTIONS)  # rows: the names stay horizontal
    assert list(plots.class_balance_figure(clips, "actor").data[0].y) == [1, 2]
