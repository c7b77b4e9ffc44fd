"""The figures of ser.plots: shapes, orders and gaps, without running any model."""

import numpy as np
import pandas as pd

from ser import config, plots
from ser.inference import ClipAnalysis, Prediction, WindowPrediction
from ser.segments import Segment, segments, segments_text


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
    assert bars.textposition == "outside"  # dark text on white, whatever the bar's colour
    unsure = Prediction(prediction("sad").probs, unsure=True)
    faded = plots.probabilities_figure(unsure, "MFCC").data[0].marker.color
    assert list(faded) == [plots.faded(config.EMOTION_COLOURS[e]) for e in config.EMOTIONS]


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


def test_timeline_follows_the_lead_reading_in_labelled_segments_and_leaves_no_speech_empty():
    windows = [WindowPrediction(0.0, 4.0, True, {"whisper": prediction("angry")}, prediction("sad")),
               WindowPrediction(2.0, 6.0, True, {"whisper": prediction("angry")}, prediction("sad")),
               WindowPrediction(4.0, 8.0, False),
               WindowPrediction(6.0, 10.0, True, {"whisper": prediction("happy")}, prediction("happy"))]
    analysis = ClipAnalysis(10.0, True, 8.0, {}, prediction("sad"), windows, lead="whisper")
    assert segments(analysis) == [Segment(0.0, 5.0, "angry"), Segment(5.0, 7.0, None),
                                  Segment(7.0, 10.0, "happy")]
    assert segments_text(segments(analysis)) == "0–5 s angry, 5–7 s no speech, 7–10 s happy"
    fig = plots.timeline_figure(analysis, "Whisper")
    assert [bar.text[0] for bar in fig.data[:3]] == ["angry", "no speech", "happy"]  # the labelled bands
    angry = next(trace for trace in fig.data if trace.name == "angry")
    assert angry.y[0] > 0.5 and angry.y[2] is None  # the lead's probabilities, not the fused verdict's
    assert next(trace for trace in fig.data if trace.name == "no speech").x == (6.0,)
    assert sum(angry.width) == 10.0  # the bars tile the clip
    short = ClipAnalysis(4.4, True, 4.0, {}, prediction("sad"), windows[:2])
    assert plots.timeline_figure(short, "Whisper") is None  # under two windows: the verdict says it all


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
    # A few clips tick whole clips, never "0.5 clips".
    assert emotions.layout.xaxis.dtick == 1 and plots.class_balance_figure(clips, "actor").layout.yaxis.dtick == 1


def test_text_on_every_emotion_colour_meets_wcag_contrast():
    for colour in config.EMOTION_COLOURS.values():
        for shade in (colour, plots.faded(colour)):  # sure and unsure readings
            assert plots.contrast(plots.text_colour_on(shade), shade) >= 4.5, shade


def test_every_model_has_a_clearly_different_colour():
    colours = list(plots.MODEL_COLOURS.values())
    for i, a in enumerate(colours):
        for b in colours[i + 1:]:
            distance = sum((int(a[k:k + 2], 16) - int(b[k:k + 2], 16)) ** 2 for k in (1, 3, 5)) ** 0.5
            assert distance > 70, (a, b)  # the old purples of MFCC and WakeHuBERT were 38 apart


def test_emotion_map_draws_the_reading_as_a_dot_with_its_trail_behind_it():
    trail = [(0.0, 0.1), (0.2, 0.3), (-0.4, 0.6)]
    fig = plots.emotion_map_figure(trail, "Where the voice sits")
    *_, line, dot = fig.data
    assert (dot.x[0], dot.y[0]) == trail[-1] and list(line.x) == [v for v, _ in trail]
    labels = [t for trace in fig.data if trace.text is not None for t in trace.text]
    assert "angry / fearful" in labels and "calm" in labels  # emotions sharing a point share a label
    assert len(plots.emotion_map_figure(trail[:1], "x").data) == 3  # circle, emotions, dot: no trail yet


def test_transfer_charts_mark_guessing_on_every_corpus_and_can_share_one_scale():
    rows = [{"model": "mfcc", "corpora": {"ased": {"right": 0.3, "chance": 0.2},
                                         "emovo": {"right": 0.25, "chance": 1 / 7}}}]
    higher = [{"model": "mfcc", "corpora": {"ased": {"right": 0.9, "chance": 0.2}}}]
    fig = plots.transfer_figure(rows, {"mfcc": "MFCC"}, "As heard")
    bars, guessing = fig.data
    assert list(bars.x) == ["ASED", "EMOVO"] and list(bars.y) == [0.3, 0.25]
    assert list(guessing.y) == [0.2, 1 / 7]
    shared = plots.transfer_figure(rows, {"mfcc": "MFCC"}, "As heard", scale_rows=rows + higher)
    assert shared.layout.yaxis.range[1] > fig.layout.yaxis.range[1] >= 0.5
