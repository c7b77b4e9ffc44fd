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

from ser import circumplex, config, features
from ser.backbones import REGISTRY
from ser.corpora import CORPORA
from ser.inference import ClipAnalysis, Prediction
from ser.segments import segments, shows_timeline, window_reading, window_spans

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
# The same at the very foot of the figure, for charts whose axis labels take two rows or whose
# legend wraps to several: the bottom margin must hold it.
FOOT_LEGEND = dict(BOTTOM_LEGEND, yref="container", y=0, yanchor="bottom")


def _styled(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title_text=title, height=height)
    fig.update_annotations(font_size=FONT_SIZE)  # subplot titles default to a smaller size
    return fig


def model_colour(model_id: str, position: int = 0) -> str:
    """The colour of a model in every chart; unknown ids take a fallback by position."""
    return MODEL_COLOURS.get(model_id, FALLBACK_COLOURS[position % len(FALLBACK_COLOURS)])


# --- colours that stay readable -----------------------------------------------------------
def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21; text needs 4.5)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on ``background``: every emotion colour
    gives one of them a contrast of 4.5:1 or more."""
    return max(("#000000", "#ffffff"), key=lambda text: contrast(text, background))


def faded(colour: str, amount: float = 0.55) -> str:
    """``colour`` mixed with white: how an unsure reading's colour shows."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in channels)


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
                        subplot_titles=("Waveform", "Spectrogram", "MFCC: tone colour against its usual"))
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
                             colorbar=_colourbar(fig, 3, "vs. usual"),
                             hovertemplate="%{x:.2f} s, band %{y}: %{z:.1f}<extra></extra>"),
                  row=3, col=1)

    fig.update_yaxes(title_text="amplitude", row=1, col=1)
    fig.update_yaxes(title_text="Hz", row=2, col=1)
    fig.update_yaxes(title_text="band", row=3, col=1)
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
    page can wrap them onto as many rows as its width needs. Percentages sit beside the
    bars, dark on white, so they read on any bar colour."""
    emotions = list(config.EMOTIONS)
    probs = [prediction.probs.get(e, 0.0) for e in emotions]
    colours = [config.EMOTION_COLOURS[e] for e in emotions]
    fig = go.Figure(go.Bar(
        x=probs, y=emotions, orientation="h", showlegend=False,
        marker=dict(color=[faded(c) for c in colours] if prediction.unsure else colours,
                    line=dict(width=[3 if e == prediction.label else 0 for e in emotions], color=TEXT_COLOUR)),
        text=[f"{p:.0%}" if p >= 0.05 else "" for p in probs], textposition="outside", cliponaxis=False,
        textfont=dict(color=TEXT_COLOUR), hovertemplate=f"{title}<br>%{{y}}: %{{x:.0%}}<extra></extra>",
    ))
    # Two ticks fit a phone's panel; the axis runs past 100 % so a label beside a full bar fits.
    fig.update_xaxes(range=[0, 1.25], tickvals=[0, 1], ticktext=["0", "100%"], tickangle=0)
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=emotions)
    fig = _styled(fig, title, 380)
    fig.update_layout(margin=dict(l=10, r=16, t=50, b=30))
    return fig


def emotion_map_figure(trail: list[tuple[float, float]], title: str, height: int = 360) -> go.Figure:
    """Where readings sit on Russell's circumplex (``ser.circumplex``): valence across, arousal
    up, each emotion's point labelled; ``trail`` holds (valence, arousal) oldest first, the last
    one drawn as the dot and the ones before it as a fading line."""
    points = circumplex.coordinates()
    circle = np.linspace(0, 2 * np.pi, 97)
    fig = go.Figure(go.Scatter(x=np.cos(circle), y=np.sin(circle), mode="lines", hoverinfo="skip",
                               line=dict(color=GRID_COLOUR, width=1), showlegend=False))
    # Emotions sharing a point (angry, fearful) share one label.
    at: dict[tuple[float, float], list[str]] = {}
    for emotion, point in points.items():
        at.setdefault((round(point[0], 3), round(point[1], 3)), []).append(emotion)
    # Labels outside the circle, on the side their point faces, so the dot never hides them.
    sides = ["middle left" if x < -0.1 else "middle right" if x > 0.1 else "top center" if y > 0
             else "bottom center" for x, y in at]
    fig.add_trace(go.Scatter(
        x=[p[0] for p in at], y=[p[1] for p in at], mode="markers+text", showlegend=False,
        text=[" / ".join(names) for names in at.values()], textposition=sides,
        textfont=dict(size=FONT_SIZE - 5, color=TEXT_COLOUR), hoverinfo="skip",
        marker=dict(size=14, color=[config.EMOTION_COLOURS[names[0]] for names in at.values()])))
    if len(trail) > 1:
        fig.add_trace(go.Scatter(x=[v for v, _ in trail], y=[a for _, a in trail], mode="lines+markers",
                                 line=dict(color="#7b8794", width=2), marker=dict(size=6, color="#7b8794"),
                                 hoverinfo="skip", showlegend=False))
    if trail:
        fig.add_trace(go.Scatter(x=[trail[-1][0]], y=[trail[-1][1]], mode="markers", showlegend=False,
                                 marker=dict(size=18, color=TEXT_COLOUR, line=dict(width=3, color="white")),
                                 hovertemplate="pleasant %{x:.2f}, excited %{y:.2f}<extra></extra>"))
    axis = dict(range=[-2.1, 2.1], zeroline=True, showgrid=False, tickvals=[-1, 1], tickangle=0,
                constrain="domain")  # room for the labels beside the circle
    fig.update_xaxes(axis, ticktext=["unpleasant", "pleasant"])
    fig.update_yaxes(axis, ticktext=["calm", "excited"], scaleanchor="x")
    fig = _styled(fig, title, height)
    fig.update_layout(margin=dict(l=10, r=10, t=50, b=30))
    return fig


def _time_step_s(duration_s: float, max_ticks: int = 7) -> float:
    """A round tick spacing in seconds for a time axis (plotly's own choice on few wide
    bars lands on the bars' centres, e.g. 1.1 and 3.3); at most ``max_ticks`` ticks, so
    labels such as "2.5 s" stay apart on a projector-width chart."""
    steps = (0.5, 1, 2, 5, 10, 15, 30, 60)
    return next((step for step in steps if duration_s / step <= max_ticks),
                60.0 * np.ceil(duration_s / max_ticks / 60))  # whole minutes for very long clips


def timeline_figure(analysis: ClipAnalysis, reader: str) -> go.Figure | None:
    """The lead reading (named ``reader``) over time: on top, its segments as bands labelled
    with their emotion (``ser.segments``); below, its probabilities in each window as
    stacked bars. Windows without speech are gaps. None for a clip too short for a timeline."""
    if not shows_timeline(analysis):
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.2, 0.8])
    for segment in segments(analysis):
        colour = config.EMOTION_COLOURS.get(segment.label, NO_SPEECH_COLOUR)
        colour = faded(colour) if segment.unsure else colour
        label = segment.label or "no speech"
        fig.add_trace(go.Bar(
            x=[(segment.start_s + segment.end_s) / 2], width=[segment.end_s - segment.start_s], y=[1],
            marker=dict(color=colour, line=dict(width=1, color="white")), showlegend=False,
            text=[label + ("?" if segment.unsure else "")], textposition="inside", insidetextanchor="middle",
            textfont=dict(color=text_colour_on(colour), size=FONT_SIZE - 2), textangle=0,
            hovertemplate=f"{segment.start_s:.1f}-{segment.end_s:.1f} s: {label}<extra></extra>",
        ), row=1, col=1)
    spans = window_spans(analysis)
    centres = [(a + b) / 2 for a, b in spans]
    widths = [b - a for a, b in spans]
    readings = [window_reading(w, analysis.lead) for w in analysis.timeline]
    for emotion in config.EMOTIONS:
        fig.add_trace(go.Bar(
            name=emotion, x=centres, width=widths, marker_color=config.EMOTION_COLOURS[emotion],
            y=[r.probs[emotion] if r else None for r in readings],
            customdata=[[w.start_s, w.end_s] for w in analysis.timeline],
            hovertemplate="%{customdata[0]:.1f}-%{customdata[1]:.1f} s: " + emotion
                          + " %{y:.0%}<extra></extra>",
        ), row=2, col=1)
    silent = [i for i, r in enumerate(readings) if not r]
    if silent:
        fig.add_trace(go.Bar(
            name="no speech", x=[centres[i] for i in silent], width=[widths[i] for i in silent],
            y=[1.0] * len(silent), marker=dict(color=NO_SPEECH_COLOUR, pattern_shape="/",
                                               pattern_fgcolor="#b0bec5"),
            hovertemplate="%{x:.1f} s: no speech<extra></extra>",
        ), row=2, col=1)
    # In emotion order: "reversed" (plotly's default for stacks) reads oddly in rows; at the
    # figure's foot, where it cannot cover the time axis's labels however many rows it wraps to.
    fig.update_layout(barmode="stack", bargap=0,
                      legend=dict(FOOT_LEGEND, traceorder="normal"))
    fig.update_xaxes(ticksuffix=" s", range=[0, analysis.duration_s], tick0=0,
                     dtick=_time_step_s(analysis.duration_s))
    fig.update_xaxes(ticks="", row=1, col=1)  # the bands sit on the time axis of the bars below
    fig.update_yaxes(visible=False, range=[0, 1], row=1, col=1)
    fig.update_yaxes(range=[0, 1], tickvals=[0, 1], ticktext=["0", "100%"], row=2, col=1)
    # Short: it opens a take's analysis, and the whole-take verdict must fit on the same screen.
    fig = _styled(fig, f"Over time, as {reader} hears it", 360)
    fig.update_layout(margin=dict(t=50, b=120))
    return fig


# --- evaluation reports ------------------------------------------------------------------
def transfer_figure(rows: list[dict], names: dict[str, str], title: str,
                    scale_rows: list[dict] | None = None) -> go.Figure:
    """Every reading of one mode (rows of ``reports.headlines``) on every corpus it never
    heard, as bars of the share named right, and what guessing scores there as a dashed
    mark across each corpus's bars. ``scale_rows`` (default ``rows``) set the height of the
    scale, so that charts of several modes side by side share one."""
    fig = go.Figure()
    corpora = list(dict.fromkeys(corpus for row in rows for corpus in row["corpora"]))
    labels = [CORPORA[c].name.split(" (")[0] for c in corpora]  # "ASED": three fit a phone's width
    for position, row in enumerate(rows):
        shares = [row["corpora"].get(c, {}).get("right") for c in corpora]
        name = names.get(row["model"], row["model"])
        fig.add_trace(go.Bar(
            name=name, x=labels, y=shares, marker_color=model_colour(row["model"], position),
            text=[f"{v:.0%}" if v is not None else "" for v in shares], textposition="outside",
            cliponaxis=False, textfont=dict(color=TEXT_COLOUR, size=FONT_SIZE - 4),
            hovertemplate="%{x}: %{y:.0%} right<extra>" + name + "</extra>"))
    chances = [next(row["corpora"][c]["chance"] for row in rows if c in row["corpora"]) for c in corpora]
    fig.add_trace(go.Scatter(
        name="guessing", x=labels, y=chances, mode="markers",
        marker=dict(symbol="line-ew", size=44, line=dict(width=3, color=TEXT_COLOUR)),
        hovertemplate="%{x}: guessing scores %{y:.0%}<extra></extra>"))
    fig.update_layout(barmode="group", legend=FOOT_LEGEND)
    fig.update_xaxes(tickangle=-35)  # six corpus names side by side overlapped at 460 px
    top = max([c["right"] for row in scale_rows or rows for c in row["corpora"].values()] + [0.5])
    fig.update_yaxes(range=[0, top * 1.15], tickformat=".0%", dtick=0.25)  # room for the labels on top
    fig = _styled(fig, title, 440)
    fig.update_layout(margin=dict(b=130))
    return fig


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
    # Whole clips on the count axis: with a few clips plotly would tick halves ("0.5 clips").
    whole = dict(dtick=1) if counts.max() < 10 else {}
    if column == "actor":  # many short labels: columns, without counts on top (they collide)
        fig = go.Figure(go.Bar(x=labels, y=counts.to_numpy(), marker_color=colours,
                               hovertemplate="%{x}: %{y} clips<extra></extra>"))
        fig.update_xaxes(type="category", title_text=column, tickangle=0)
        fig.update_yaxes(title_text="clips", rangemode="tozero", **whole)
        return _styled(fig, f"Clips per {column}", 380)
    # Few long labels ("surprised", sentences): rows, so the labels stay horizontal.
    fig = go.Figure(go.Bar(x=counts.to_numpy(), y=labels, orientation="h", marker_color=colours,
                           text=counts.to_numpy(), textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x} clips<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(title_text="clips", rangemode="tozero", **whole)
    return _styled(fig, f"Clips per {column}", 140 + 36 * len(labels))
