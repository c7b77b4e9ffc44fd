"""Plotly figures of a clip, an analysis and the models' evaluation reports.

No Streamlit here: every function returns a ``go.Figure`` that any front end can
show. All figures share one template with large fonts (the app is shown on
projectors), the emotion order of ``config.EMOTIONS`` and the colours of
``config.EMOTION_COLOURS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors as pc
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser import config, features
from ser.backbones import REGISTRY
from ser.inference import ClipAnalysis, Prediction

FONT_SIZE = 18  # px; readable from the back of a room
TITLE_SIZE = 22
TEXT_COLOUR = "#1f2933"
GRID_COLOUR = "#e4e7eb"
NO_SPEECH_COLOUR = "#eceff1"
# Models are told apart by colour where emotions sit on an axis (recall, per-actor charts).
MODEL_COLOURS = {kind: entry.colour for kind, entry in REGISTRY.items()} | {"fused": "#212121"}
FALLBACK_COLOURS = ("#6d4c41", "#f4511e", "#5e35b1", "#00acc1")
# Magma with pure black at the bottom: Streamlit's chart frontend swaps the placeholder
# colours #000001..#000009 for theme colours, and Magma starts at #000004 (silence turned violet).
SPECTROGRAM_COLOURS = ["#000000", *pc.sequential.Magma[1:]]
# The spectrogram is in dB re the clip's peak, but never re less than a quiet tone's level:
# re the peak alone, a silent or near-silent file is scaled up to fill the top of the scale.
SPECTROGRAM_RANGE_DB = 80.0
QUIET_PEAK_DBFS = -50.0
# A Hann-windowed STFT puts a full-scale sine's peak at N_FFT / 4.
QUIET_PEAK = 10 ** (QUIET_PEAK_DBFS / 20) * config.N_FFT / 4
# Least spread used to standardise an MFCC row: a flat row (silence) stays at the neutral
# centre of the scale instead of float noise divided by ~0 filling it with colour.
MFCC_MIN_SPREAD = 5.0
WAVEFORM_POINTS = 2_000  # envelope columns: keeps a 2-minute clip to a few thousand points
HEATMAP_COLUMNS = 1_200  # time columns of the spectrogram and MFCC heatmaps

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family="Source Sans Pro, Helvetica, Arial, sans-serif", size=FONT_SIZE, color=TEXT_COLOUR),
        title=dict(font=dict(size=TITLE_SIZE), x=0.0, xanchor="left"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=list(MODEL_COLOURS.values()),
        # automargin: long tick labels ("surprised", actor names) push the margin out, never get cut
        xaxis=dict(gridcolor=GRID_COLOUR, zerolinecolor=GRID_COLOUR, linecolor="#9aa5b1", ticks="outside",
                   automargin=True),
        yaxis=dict(gridcolor=GRID_COLOUR, zerolinecolor=GRID_COLOUR, linecolor="#9aa5b1", ticks="outside",
                   automargin=True),
        legend=dict(font=dict(size=FONT_SIZE - 2)),
        hoverlabel=dict(font=dict(size=FONT_SIZE - 2)),
        margin=dict(l=80, r=30, t=70, b=60),
    )
)


# Legends sit under the chart, in rows that wrap: above it they grew into the title when
# they wrapped on a narrow screen, and beside it they take a third of the width.
# Those charts carry no x-axis title for the legend to land on.
BOTTOM_LEGEND = dict(orientation="h", x=0, xanchor="left", y=-0.14, yanchor="top")


def _styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title_text=title, height=height)
    fig.update_annotations(font_size=FONT_SIZE)  # subplot titles default to a smaller size
    return fig


def model_colour(model_id: str, position: int = 0) -> str:
    """The colour of a model in every chart; unknown ids take a fallback by position."""
    return MODEL_COLOURS.get(model_id, FALLBACK_COLOURS[position % len(FALLBACK_COLOURS)])


# --- the signal -----------------------------------------------------------------------
def waveform_envelope(audio: np.ndarray, n_points: int = WAVEFORM_POINTS):
    """Min/max envelope of 16 kHz ``audio`` for plotting.

    Returns ``(times_s, lower, upper)``, each of shape ``(n_columns,)`` with
    ``n_columns <= n_points``; a short clip comes back sample by sample.
    """
    times_s = np.arange(len(audio)) / config.SAMPLE_RATE
    if len(audio) <= n_points:
        return times_s, audio, audio
    per_column = int(np.ceil(len(audio) / n_points))
    n_columns = len(audio) // per_column
    blocks = audio[: n_columns * per_column].reshape(n_columns, per_column)
    centres_s = (np.arange(n_columns) + 0.5) * per_column / config.SAMPLE_RATE
    return centres_s, blocks.min(axis=1), blocks.max(axis=1)


def _pool_columns(matrix: np.ndarray, max_columns: int = HEATMAP_COLUMNS):
    """Average groups of time frames so ``matrix (n_rows, n_frames)`` has at most
    ``max_columns`` columns; returns ``(pooled, centre time of each column in s)``."""
    n_frames = matrix.shape[1]
    per_column = max(1, int(np.ceil(n_frames / max_columns)))
    n_columns = int(np.ceil(n_frames / per_column))
    padded = np.pad(matrix, ((0, 0), (0, n_columns * per_column - n_frames)), mode="edge")
    pooled = padded.reshape(matrix.shape[0], n_columns, per_column).mean(axis=2)
    times_s = (np.arange(n_columns) * per_column + (per_column - 1) / 2) / features.FRAME_RATE_HZ
    return pooled, times_s


def spectrogram_db(audio: np.ndarray) -> np.ndarray:
    """Magnitude spectrogram of 16 kHz ``audio`` in dB re its peak, or re a -50 dBFS tone
    when the clip is quieter than that, floored at -80 dB; shape ``(1 + N_FFT // 2, n_frames)``.
    Silence sits at the floor (the dark end of the scale)."""
    power = np.abs(features.stft(audio)) ** 2
    reference = max(float(power.max(initial=0.0)), QUIET_PEAK ** 2)
    return (features.power_to_db(power) - features.power_to_db(reference)).clip(-SPECTROGRAM_RANGE_DB, 0.0)


def standardised_mfcc(audio: np.ndarray) -> np.ndarray:
    """MFCCs of 16 kHz ``audio``, each coefficient standardised over the clip, shape
    ``(N_MFCC, n_frames)``: c0 (loudness) is ten times larger than the rest and would
    otherwise wash out the colour scale. Silence comes out at 0, the scale's neutral centre."""
    coefficients = features.mfcc(features.log_mel(audio))
    spread = np.maximum(coefficients.std(axis=1, keepdims=True), MFCC_MIN_SPREAD)
    return (coefficients - coefficients.mean(axis=1, keepdims=True)) / spread


def signal_figure(audio: np.ndarray) -> go.Figure:
    """Waveform, spectrogram (``spectrogram_db``, 0-8 kHz) and MFCCs of 16 kHz mono ``audio``
    in three rows on one time axis in seconds."""
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.24, 0.42, 0.34],
                        subplot_titles=("Waveform", "Spectrogram", "MFCC (each row vs. its clip average)"))
    times_s, lower, upper = waveform_envelope(audio)
    fig.add_trace(go.Scatter(x=times_s, y=upper, mode="lines", line=dict(width=1, color="#3949ab"),
                             hoverinfo="skip", showlegend=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=times_s, y=lower, mode="lines", line=dict(width=1, color="#3949ab"),
                             fill="tonexty", fillcolor="rgba(57, 73, 171, 0.55)",
                             hoverinfo="skip", showlegend=False), row=1, col=1)

    spectrogram, spec_times_s = _pool_columns(spectrogram_db(audio))
    frequencies_hz = np.arange(spectrogram.shape[0]) * config.SAMPLE_RATE / config.N_FFT
    fig.add_trace(go.Heatmap(z=spectrogram, x=spec_times_s, y=frequencies_hz, colorscale=SPECTROGRAM_COLOURS,
                             zmin=-SPECTROGRAM_RANGE_DB, zmax=0, colorbar=_colourbar(fig, 2, "dB"),
                             hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.0f} dB<extra></extra>"),
                  row=2, col=1)

    mfcc_pooled, mfcc_times_s = _pool_columns(standardised_mfcc(audio))
    fig.add_trace(go.Heatmap(z=mfcc_pooled, x=mfcc_times_s, y=np.arange(mfcc_pooled.shape[0]),
                             colorscale="RdBu_r", zmid=0, zmin=-3, zmax=3,
                             colorbar=_colourbar(fig, 3, "σ"),
                             hovertemplate="%{x:.2f} s, c%{y}: %{z:.1f}<extra></extra>"),
                  row=3, col=1)

    fig.update_yaxes(title_text="amplitude", row=1, col=1)
    fig.update_yaxes(title_text="Hz", row=2, col=1)
    fig.update_yaxes(title_text="coefficient", row=3, col=1)
    fig.update_xaxes(title_text="time (s)", row=3, col=1)
    fig.update_xaxes(range=[0, len(audio) / config.SAMPLE_RATE])
    return _styled(fig, "The signal", 720)


def _colourbar(fig: go.Figure, row: int, title: str) -> dict:
    """A colour bar beside subplot ``row`` only (plotly puts every bar full height)."""
    low, high = fig.layout[f"yaxis{row}"].domain
    return dict(title=dict(text=title, side="right"), y=(low + high) / 2, len=high - low, thickness=16)


# --- an analysis ------------------------------------------------------------------------
def probabilities_figure(prediction: Prediction, title: str) -> go.Figure:
    """One reading's class probabilities as bars, emotions in ``config.EMOTIONS`` order,
    the winner outlined; an unsure reading's bars are faded. One figure per reading, so a
    page can wrap them onto as many rows as its width needs."""
    emotions = list(config.EMOTIONS)
    probs = [prediction.probs.get(e, 0.0) for e in emotions]
    fig = go.Figure(go.Bar(
        x=probs, y=emotions, orientation="h", showlegend=False, opacity=0.45 if prediction.unsure else 1.0,
        marker=dict(color=[config.EMOTION_COLOURS[e] for e in emotions],
                    line=dict(width=[3 if e == prediction.label else 0 for e in emotions], color=TEXT_COLOUR)),
        text=[f"{p:.0%}" if p >= 0.05 else "" for p in probs], textposition="auto",
        hovertemplate=f"{title}<br>%{{y}}: %{{x:.0%}}<extra></extra>",
    ))
    # Three horizontal ticks fit a narrow panel; more would turn sideways.
    fig.update_xaxes(range=[0, 1], tickvals=[0, 0.5, 1], ticktext=["0", "50%", "100%"], tickangle=0)
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=emotions)
    fig = _styled(fig, title, 380)
    fig.update_layout(margin=dict(l=10, r=36, t=50, b=30))  # r: room for the "100%" tick
    return fig


def _window_spans(analysis: ClipAnalysis) -> list[tuple[float, float]]:
    """Bar span (s) of each timeline window: from the midpoint with its left
    neighbour's centre to the midpoint with its right one's, so the overlapping
    windows tile the clip without overlapping on the chart."""
    centres = [(w.start_s + w.end_s) / 2 for w in analysis.timeline]
    edges = [analysis.timeline[0].start_s]
    edges += [(a + b) / 2 for a, b in zip(centres, centres[1:])]
    edges.append(analysis.timeline[-1].end_s)
    return list(zip(edges, edges[1:]))


def _time_step_s(duration_s: float, max_ticks: int = 7) -> float:
    """A round tick spacing in seconds for a time axis (plotly's own choice on few wide
    bars lands on the bars' centres, e.g. 1.1 and 3.3); at most ``max_ticks`` ticks, so
    labels such as "2.5 s" stay apart on a projector-width chart."""
    steps = (0.5, 1, 2, 5, 10, 15, 30, 60)
    return next((step for step in steps if duration_s / step <= max_ticks),
                60.0 * np.ceil(duration_s / max_ticks / 60))  # whole minutes for very long clips


def timeline_figure(analysis: ClipAnalysis) -> go.Figure | None:
    """The fused probabilities (all models together) of each window over time as stacked bars (one colour
    per emotion); windows without speech are gaps. None for a clip of one window."""
    if not analysis.timeline:
        return None
    spans = _window_spans(analysis)
    centres = [(a + b) / 2 for a, b in spans]
    widths = [b - a for a, b in spans]
    fig = go.Figure()
    for emotion in config.EMOTIONS:
        fig.add_trace(go.Bar(
            name=emotion, x=centres, width=widths, marker_color=config.EMOTION_COLOURS[emotion],
            y=[w.fused.probs[emotion] if w.fused else None for w in analysis.timeline],
            customdata=[[w.start_s, w.end_s] for w in analysis.timeline],
            hovertemplate="%{customdata[0]:.1f}-%{customdata[1]:.1f} s: " + emotion
                          + " %{y:.0%}<extra></extra>",
        ))
    silent = [i for i, w in enumerate(analysis.timeline) if not w.fused]
    if silent:
        fig.add_trace(go.Bar(
            name="no speech", x=[centres[i] for i in silent], width=[widths[i] for i in silent],
            y=[1.0] * len(silent), marker=dict(color=NO_SPEECH_COLOUR, pattern_shape="/",
                                               pattern_fgcolor="#b0bec5"),
            hovertemplate="%{x:.1f} s: no speech<extra></extra>",
        ))
    # In emotion order: "reversed" (plotly's default for stacks) reads oddly in rows.
    fig.update_layout(barmode="stack", bargap=0, legend=dict(BOTTOM_LEGEND, traceorder="normal"))
    fig.update_xaxes(ticksuffix=" s", range=[0, analysis.duration_s], tick0=0,
                     dtick=_time_step_s(analysis.duration_s))
    fig.update_yaxes(title_text="all models together", range=[0, 1], tickformat=".0%")
    return _styled(fig, f"Emotion over time ({config.WINDOW_S:g} s windows every {config.HOP_S:g} s)", 420)


# --- evaluation reports ------------------------------------------------------------------
def confusion_figure(report: dict, title: str) -> go.Figure:
    """Confusion matrix of an ``evaluation.score`` report: rows the true emotion,
    columns the predicted one; colour is the share of the row (darkest: 100 %),
    text the clip count."""
    labels = report["labels"]
    counts = np.asarray(report["confusion"], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    # No colour bar: the matrices sit side by side and every pixel goes to the cells.
    fig = go.Figure(go.Heatmap(
        z=shares, x=labels, y=labels, zmin=0, zmax=1, colorscale="Blues", showscale=False,
        text=counts.astype(int), texttemplate="%{text}", textfont=dict(size=FONT_SIZE - 3),
        hovertemplate="true %{y}, predicted %{x}: %{text} clips (%{z:.0%} of the row)<extra></extra>",
    ))
    fig.update_xaxes(title_text="predicted", tickangle=-45, showgrid=False, tickvals=labels)
    fig.update_yaxes(title_text="true", autorange="reversed", showgrid=False, tickvals=labels)
    return _styled(fig, title, 520)


def per_class_recall_figure(reports: dict[str, dict], names: dict[str, str] | None = None) -> go.Figure:
    """Recall of each emotion, one bar per model (``reports``: model id -> report); emotions
    down the side, so "disgust" and "surprised" never collide as column labels do."""
    names = names or {}
    fig = go.Figure()
    for position, (model_id, report) in enumerate(reports.items()):
        recalls = [report["per_class_recall"].get(e) for e in config.EMOTIONS]
        fig.add_trace(go.Bar(name=names.get(model_id, model_id), y=list(config.EMOTIONS), x=recalls,
                             orientation="h", marker_color=model_colour(model_id, position),
                             hovertemplate="%{y}: %{x:.0%}<extra>" + names.get(model_id, model_id) + "</extra>"))
    fig.add_vline(x=1 / len(config.EMOTIONS), line_dash="dot", line_color="#7b8794")
    fig.update_layout(barmode="group", legend=BOTTOM_LEGEND)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    return _styled(fig, "Recall per emotion", 620)


def per_actor_figure(reports: dict[str, dict], names: dict[str, str] | None = None) -> go.Figure:
    """Accuracy on each held-out actor, one marker per model: how much it varies by speaker."""
    names = names or {}
    fig = go.Figure()
    symbols = ("circle", "diamond", "square", "triangle-up", "x")
    for position, (model_id, report) in enumerate(reports.items()):
        accuracy = report.get("per_actor_accuracy", {})
        fig.add_trace(go.Scatter(
            name=names.get(model_id, model_id), x=list(accuracy), y=list(accuracy.values()),
            mode="markers",
            marker=dict(size=11, symbol=symbols[position % len(symbols)],
                        color=model_colour(model_id, position)),
            hovertemplate="actor %{x}: %{y:.0%}<extra>" + names.get(model_id, model_id) + "</extra>",
        ))
    fig.update_xaxes(type="category", tickangle=0, tickfont=dict(size=FONT_SIZE - 4))
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%")
    # Side by side per actor: the models' markers at one actor no longer hide each other.
    fig.update_layout(scattermode="group", scattergap=0.4, legend=BOTTOM_LEGEND)
    return _styled(fig, "Accuracy per actor", 440)


def class_balance_figure(clips: pd.DataFrame, column: str) -> go.Figure:
    """Number of clips per value of ``column`` of a dataset index; emotions keep
    their order and colours, other values are sorted."""
    counts = clips[column].value_counts()
    if column == "emotion":
        counts = counts.reindex(list(config.EMOTIONS), fill_value=0)
        colours = [config.EMOTION_COLOURS[e] for e in counts.index]
    else:
        counts = counts.sort_index()
        colours = "#3949ab"
    labels = [f"{v:02d}" if isinstance(v, (int, np.integer)) else str(v) for v in counts.index]
    if column == "actor":  # many short labels: columns, without counts on top (they collide)
        fig = go.Figure(go.Bar(x=labels, y=counts.to_numpy(), marker_color=colours,
                               hovertemplate="%{x}: %{y} clips<extra></extra>"))
        fig.update_xaxes(type="category", title_text=column, tickangle=0)
        fig.update_yaxes(title_text="clips", rangemode="tozero")
        return _styled(fig, f"Clips per {column}", 380)
    # Few long labels ("surprised", sentences): rows, so the labels stay horizontal.
    fig = go.Figure(go.Bar(x=counts.to_numpy(), y=labels, orientation="h", marker_color=colours,
                           text=counts.to_numpy(), textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x} clips<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(title_text="clips", rangemode="tozero")
    return _styled(fig, f"Clips per {column}", 140 + 36 * len(labels))
