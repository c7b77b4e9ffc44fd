"""The panel shown for every analysed clip (Live, Upload, Dataset), and audio input
that reports bad files as messages instead of tracebacks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ser import plots
from ser.audio import AudioError, load_audio, to_wav_bytes
from ser.inference import ClipAnalysis, analyse
from ser.models import EmotionModel
from ui.charts import show_figure
from ui.resources import model_names, require_models

UPLOAD_TYPES = ["wav", "flac", "mp3", "ogg", "m4a", "webm"]
EMOTION_EMOJI = {"neutral": "😐", "calm": "😌", "happy": "😄", "sad": "😢", "angry": "😠",
                 "fearful": "😨", "disgust": "🤢", "surprised": "😲"}
CACHED_CLIPS = 32  # analyses and figures kept per process; a clip is ~1 MB of figure data


def audio_digest(audio: np.ndarray) -> str:
    """A short hash of the samples: the cache key of a clip's analysis and figures."""
    return hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16).hexdigest()


@st.cache_data(max_entries=CACHED_CLIPS, show_spinner=False)
def _decoded(data: bytes) -> np.ndarray:
    return load_audio(data)  # an AudioError propagates and is never cached


@st.cache_data(max_entries=CACHED_CLIPS, show_spinner=False)
def _analysis(digest: str, _audio: np.ndarray, _models: list[EmotionModel]) -> ClipAnalysis:
    # Keyed by ``digest`` alone: the models are fixed for the life of the process.
    return analyse(_audio, _models)


@st.cache_data(max_entries=CACHED_CLIPS, show_spinner=False)
def _signal_figure(digest: str, _audio: np.ndarray) -> go.Figure:
    return plots.signal_figure(_audio)


def load_user_audio(data: bytes, name: str) -> np.ndarray | None:
    """Decode a user's file to 16 kHz mono float32 ``(n_samples,)``.

    When the file cannot be analysed (not audio, empty, too short or too long),
    shows why with ``st.error`` and returns None, so the rest of the page and the
    user's other clips stay as they are.
    """
    try:
        return _decoded(data)
    except AudioError as err:
        st.error(f"**{name}** cannot be analysed: {err}")
        return None


def _verdict_metric(column, title: str, emotion: str, confidence: float, **options) -> None:
    """An emotion as a metric card, its probability underneath in grey (not a rise or fall)."""
    column.metric(title, f"{EMOTION_EMOJI.get(emotion, '')} {emotion}", delta=f"{confidence:.0%}",
                  delta_color="off", delta_arrow="off", border=True, **options)


def _agreement_text(analysis: ClipAnalysis, names: dict[str, str]) -> str:
    """One sentence on which models share the fused verdict."""
    agreeing = analysis.agreeing_models
    total = len(analysis.models)
    if len(agreeing) == total:
        return f"All {total} models agree." if total > 1 else "One model ran."
    if not agreeing:
        return "No single model's own verdict is the fused one: the models disagree."
    listed = ", ".join(names.get(m, m) for m in agreeing)
    return f"{len(agreeing)} of {total} models agree ({listed})."


def _headline(analysis: ClipAnalysis, names: dict[str, str]) -> None:
    """The fused verdict, each model's verdict, and how far they agree."""
    columns = st.columns([1.4] + [1] * len(analysis.models))
    _verdict_metric(columns[0], "Fused verdict", analysis.fused.label, analysis.fused.confidence,
                    help="The models' probabilities averaged, each weighted by its cross-validated UAR above chance.")
    agreeing = set(analysis.agreeing_models)
    for column, (model_id, prediction) in zip(columns[1:], analysis.models.items()):
        _verdict_metric(column, names.get(model_id, model_id), prediction.label, prediction.confidence)
        column.caption("✓ agrees with the verdict" if model_id in agreeing else "✗ differs")
    st.markdown(f"**{_agreement_text(analysis, names)}** "
                f"{analysis.duration_s:.1f} s clip, {analysis.speech_s:.1f} s of it speech.")


def _downloads(analysis: ClipAnalysis, name: str, key: str) -> None:
    stem = Path(name).stem or "clip"
    csv = pd.DataFrame(analysis.to_rows()).to_csv(index=False)
    document = json.dumps({"name": name, **analysis.to_dict()}, indent=2)
    left, right, _ = st.columns([1, 1, 3])
    # on_click="ignore": a download must not rerun the page (and re-render every clip).
    left.download_button("Download CSV", csv, file_name=f"{stem}-emotions.csv", mime="text/csv",
                         key=f"{key}-csv", on_click="ignore", icon=":material/download:")
    right.download_button("Download JSON", document, file_name=f"{stem}-emotions.json",
                          mime="application/json", key=f"{key}-json", on_click="ignore",
                          icon=":material/download:")


def render_analysis(audio: np.ndarray, name: str, key: str) -> ClipAnalysis:
    """Analyse 16 kHz mono float32 ``audio`` ``(n_samples,)`` with every model and lay
    out the results: verdicts, playback, probabilities, timeline, signal, downloads.

    ``name`` labels the downloads; ``key`` must be unique on the page (it prefixes
    the widgets' keys). The analysis and the signal figure are cached by a hash of
    the audio, so reruns do not recompute them. Returns the analysis.
    """
    models = require_models()
    digest = audio_digest(audio)
    with st.spinner(f"Analysing {name}…"):
        analysis = _analysis(digest, audio, models)
        signal = _signal_figure(digest, audio)
    names = model_names(models)
    if analysis.speech:
        _headline(analysis, names)
    else:
        st.warning(f"**No speech detected** in {name}: only {analysis.speech_s:.2f} s of its "
                   f"{analysis.duration_s:.1f} s sounds like a voice, so no emotion was predicted. "
                   "Try a recording with someone speaking, closer to the microphone.")
    st.audio(to_wav_bytes(audio), format="audio/wav")
    if analysis.speech:
        show_figure(plots.probabilities_figure(analysis, names), key=f"{key}-probabilities")
        timeline = plots.timeline_figure(analysis)
        if timeline is not None:
            show_figure(timeline, key=f"{key}-timeline")
    show_figure(signal, key=f"{key}-signal")
    if analysis.speech:
        _downloads(analysis, name, key)
    return analysis
