"""The panel shown for every analysed clip (Live, Upload, Dataset), its verdict cards, and
the clips a visitor asks for: decoded, or with a one-line reason, and kept per session."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ser import config, memory, plots
from ser.audio import AudioError, load_audio, spoken_duration, to_wav_bytes
from ser.circumplex import position
from ser.inference import FUSED, ClipAnalysis, Prediction, analyse
from ser.models import EmotionModel
from ser.modes import ADAPTED, PLAIN, Setting, VoiceReference, WarmUp
from ser.segments import segments, segments_text, shows_timeline
from ser.slots import Slots
from ui.charts import show_figure
from ui.resources import get_fusion, model_names, require_models
from ui.setting import PageSetting, setting_note
from ui.setting import switch as switch_setting
from ui.text import plain
from ui.view import bring_into_view
from ui.voice import calibration_note, current_voice, plain_reason, turn_off_button

UPLOAD_FORMATS = "wav, flac, mp3, ogg, m4a, webm"
UPLOAD_LIMITS = (f"{spoken_duration(config.MIN_DURATION_S)} to {spoken_duration(config.MAX_DURATION_S)} "
                 f"each, up to {config.MAX_UPLOAD_MB} MB")
EMOTION_EMOJI = {"neutral": "😐", "calm": "😌", "happy": "😄", "sad": "😢", "angry": "😠",
                 "fearful": "😨", "disgust": "🤢", "surprised": "😲"}
CACHED_CLIPS = 32  # analyses and figures kept per process; a clip is ~1 MB of figure data
# Every page shows its analyses inside one container with this key (CSS class
# st-key-ser-result): the browser tests find results by it.
RESULT_KEY = "ser-result"
NEW_RESULT_STATE = "ser_new_result"  # session key: a result was just added, to bring into view once
# Analyses a session keeps on a page, newest first: a 2-minute clip is ~8 MB of samples,
# so a visitor who keeps uploading cannot grow the server's memory without bound.
KEPT_RESULTS = 4
UNSURE_COLOUR = "#6b7280"
MAP_CAPTION = ("Each emotion at its place on Russell's (1980) circle of affect; the dot: the reading, "
               "weighed by its probabilities.")
MAP_WIDTH_PX = 320  # the emotion map beside the probabilities where there is room, else under them
PROBABILITIES_WIDTH_PX = 205  # two charts abreast in a result at 1024 px (about 490 px wide), four at 1440
_ids = count()  # unique widget keys for kept clips, across sessions
log = logging.getLogger(__name__)
# The process's analyses, shared by every session: (audio digest, voice digest) -> analysis
# or failure line, least recently used first; and the slots they are computed in.
_ANALYSES: OrderedDict[tuple[str, str | None], ClipAnalysis | str] = OrderedDict()
_ANALYSES_LOCK = threading.Lock()
_SLOTS = Slots(config.ANALYSIS_SLOTS)


@dataclass(frozen=True)
class Clip:
    """A clip a visitor asked to analyse: its samples, or why it cannot be analysed."""

    name: str
    audio: np.ndarray | None  # 16 kHz mono float32 (n_samples,); None when ``error`` says why
    error: str | None = None
    note: str | None = None  # markdown shown above the analysis, e.g. where the clip comes from
    label: str | None = None  # the emotion acted, when known (RAVDESS file names say it)
    example: bool = False  # one of the shipped clips: an actor's voice, not the visitor's
    id: int = 0


def audio_digest(audio: np.ndarray) -> str:
    """A short hash of the samples: the cache key of a clip's analysis and figures."""
    return hashlib.blake2b(np.ascontiguousarray(audio).tobytes(), digest_size=16).hexdigest()


def _analysed(audio: np.ndarray, models: list[EmotionModel], voice: VoiceReference | WarmUp | None,
              setting: Setting | None, digest: str) -> ClipAnalysis | str:
    """The clip's analysis, or, where the models fail on it, the one line saying so."""
    try:
        return analyse(audio, models, get_fusion(), voice, setting)
    except Exception as err:  # noqa: BLE001 -- whatever a clip does to the models reads as a line
        log.exception("analysing clip %s failed", digest)  # the details stay in the server's log
        return f"The models failed on this clip ({type(err).__name__}); other clips still work."


def _show_place(placeholder, place: int) -> None:
    ahead = "Your clip is next" if place == 1 else f"{place - 1} clips are waiting before yours"
    placeholder.info(f"{ahead}: the server analyses {config.ANALYSIS_SLOTS} at a time, for everyone "
                     "at once. It starts by itself.", icon=":material/hourglass_top:")


def _analysis(digest: str, voice_digest: str | None, audio: np.ndarray, models: list[EmotionModel],
              voice: VoiceReference | WarmUp | None, setting: PageSetting | None = None) -> ClipAnalysis | str:
    """``_analysed``, computed in one of the process's slots (a visitor waiting for one sees
    their place) and kept by the digests of the audio, the voice and the setting; a failure
    is kept like a result, so the same clip fails once, not on every rerun."""
    key = (digest, voice_digest, setting and setting.digest)  # the models are fixed for the process
    with _ANALYSES_LOCK:
        if key in _ANALYSES:
            _ANALYSES.move_to_end(key)
            return _ANALYSES[key]
    placeholder = st.empty()
    with _SLOTS.hold(on_wait=functools.partial(_show_place, placeholder)):
        placeholder.empty()
        with st.spinner("Analysing…"):
            result = _analysed(audio, models, voice, setting and setting.setting, digest)
        memory.give_back()  # what the analysis freed, before the next visitor's grows the heap again
    with _ANALYSES_LOCK:
        _ANALYSES[key] = result
        while len(_ANALYSES) > CACHED_CLIPS:
            _ANALYSES.popitem(last=False)
    return result


@st.cache_data(max_entries=CACHED_CLIPS, show_spinner=False)
def _signal_figure(digest: str, _audio: np.ndarray) -> go.Figure:
    return plots.signal_figure(_audio)


def decode(data: bytes, name: str, note: str | None = None, label: str | None = None,
           example: bool = False) -> Clip:
    """A visitor's file as a ``Clip``: decoded to 16 kHz mono, or with the one-line reason
    it cannot be analysed (not audio, empty, too short or too long)."""
    try:
        # Not cached: the session keeps the samples it needs, and a process-wide cache of
        # decoded clips (7.7 MB per 2 minutes) would outlive the visitors who sent them.
        return Clip(name, load_audio(data), note=note, label=label, example=example, id=next(_ids))
    except AudioError as err:
        return Clip(name, None, f"{plain(name)} cannot be analysed: {err}", id=next(_ids))


def keep(state_key: str, clips: list[Clip]) -> None:
    """Put ``clips`` first in the session's list under ``state_key``; a clip of the same
    name moves up instead of showing twice, and only the newest ``KEPT_RESULTS`` stay."""
    names = {clip.name for clip in clips}
    kept = [clip for clip in st.session_state.get(state_key, []) if clip.name not in names]
    st.session_state[state_key] = (clips + kept)[:KEPT_RESULTS]
    announce_result()


def announce_result() -> None:
    """Mark that this run (or the rerun it asks for) draws a new result."""
    st.session_state[NEW_RESULT_STATE] = True


def bring_new_result_into_view() -> None:
    """After the results are drawn: scroll the newest one to the top of the screen, once."""
    if st.session_state.pop(NEW_RESULT_STATE, False):
        bring_into_view(f".st-key-{RESULT_KEY}", then=".ser-cards")  # the newest result's cards


def show_kept(state_key: str, setting: PageSetting | None = None, voice: str | None = None) -> None:
    """The session's clips under ``state_key``, newest first, each analysed in its own box
    (among the others, when ``setting`` is given; against ``voice``'s reference: see ``show_clip``)."""
    with st.container(key=RESULT_KEY):
        for clip in st.session_state.get(state_key, []):
            with st.container(border=True):
                show_clip(clip, key=f"clip-{clip.id}", voice=voice, setting=setting)
    bring_new_result_into_view()


def show_clip(clip: Clip, key: str, voice: str | None = None, setting: PageSetting | None = None) -> None:
    """One clip: its name (as typed, never as markdown), its note, and its analysis or error
    (``voice``, ``setting``: see ``render_analysis``; an example clip is another voice, never
    read against the page's)."""
    if clip.error:
        st.error(clip.error)
        return
    st.markdown(f"#### {plain(clip.name)}")
    if clip.note:
        st.caption(clip.note)
    mark = st.empty()  # filled once the analysis says whether the models got it right
    analysis = render_analysis(clip.audio, clip.name, key=key, voice=None if clip.example else voice,
                               setting=setting)
    if analysis and clip.label and analysis.speech:
        text = known_label_text(analysis, clip.label, model_names(require_models()))
        if analysis.lead_prediction.label == clip.label:
            mark.success(text, icon="✅")
        else:  # a warning, not an error: the app works, the model missed
            mark.warning(text, icon="❌")


def known_label_text(analysis: ClipAnalysis, label: str, names: dict[str, str]) -> str:
    """Whether the lead reading names the emotion acted, and which other readings do."""
    (lead_id, lead), *others = readings(analysis).items()
    lead_name = names.get(lead_id, lead_id)
    verdict = (f"**Right**: acted {label}, and {lead_name} says {lead.label}." if lead.label == label
               else f"**Wrong**: acted {label}, but {lead_name} says {lead.label}.")
    right = [names.get(k, k) for k, p in others if p.label == label]
    wrong = [names.get(k, k) for k, p in others if p.label != label]
    return " ".join([verdict] + ([f"Also right: {', '.join(right)}."] if right else [])
                    + ([f"Wrong: {', '.join(wrong)}."] if wrong else []))


# --- verdicts -------------------------------------------------------------------------
def percent(probability: float) -> str:
    return f"{probability:.0%}"


def reading_text(prediction: Prediction) -> str:
    """"😠 angry", or for an unsure reading the question "angry or sad?"."""
    if prediction.unsure:
        return f"{prediction.label} or {prediction.runner_up}?"
    return f"{EMOTION_EMOJI.get(prediction.label, '')} {prediction.label}"


def _card(name: str, prediction: Prediction, lead: bool, note: str = "", calibrated: str = "") -> str:
    """A verdict card as one line of HTML: wraps instead of cutting text off, and an unsure
    reading is grey, dashed and carries no big percentage. ``calibrated``: a last line saying
    how the reading was calibrated (and what it read before)."""
    unsure = prediction.unsure
    colour = UNSURE_COLOUR if unsure else config.EMOTION_COLOURS.get(prediction.label, UNSURE_COLOUR)
    border = "dashed" if unsure else "solid"
    size = (2.3 if lead else 1.35) * (0.8 if unsure else 1.0)
    if unsure:
        sureness = (f"not sure: {percent(prediction.confidence)} {prediction.label}, "
                    f"{percent(prediction.probs[prediction.runner_up])} {prediction.runner_up}")
    else:
        sureness = f"{percent(prediction.confidence)} likely"
    text_colour = UNSURE_COLOUR if unsure else "inherit"
    note_html = f" <span style='font-weight:400;color:{UNSURE_COLOUR}'>{html.escape(note)}</span>" if note else ""
    return (
        f"<div class='ser-verdict{' ser-lead' if lead else ''}{' ser-unsure' if unsure else ''}' "
        f"style='flex:1 1 {16 if lead else 8.5}rem;min-width:0;border:1px solid #d5dae3;"
        f"border-left:0.45rem {border} {colour};border-radius:0.5rem;padding:0.5rem 0.85rem;"
        f"background:{'#f5f6f8' if unsure else '#fff'};overflow-wrap:break-word'>"
        f"<div style='font-weight:600'>{html.escape(name)}{note_html}</div>"
        f"<div style='font-size:{size:.2f}rem;font-weight:700;line-height:1.2;color:{text_colour}'>"
        f"{html.escape(reading_text(prediction))}</div>"
        f"<div style='color:{UNSURE_COLOUR};font-size:0.95rem'>{html.escape(sureness)}</div>"
        + (f"<div class='ser-calibrated' style='font-size:0.9rem;margin-top:0.2rem'>"
           f"🎚️ {html.escape(calibrated)}</div>" if calibrated else "")
        + "</div>"
    )


def readings(analysis: ClipAnalysis) -> dict[str, Prediction]:
    """Every reading of a clip, the lead first and the fused one among the rest."""
    everything = {**analysis.models, **({FUSED: analysis.fused} if analysis.fused else {})}
    return {analysis.lead: everything[analysis.lead],
            **{k: p for k, p in everything.items() if k != analysis.lead}}


def calibration_lines(analysis: ClipAnalysis, note: str | None) -> dict[str, str]:
    """Reading id -> what its card says about the calibration: ``note`` (how it was calibrated)
    and, where the same reading heard plainly (``analysis.plain``) differs, what it read there."""
    if analysis.mode == "plain" or not note:
        return {}
    lines = {}
    for reading_id, prediction in readings(analysis).items():
        if prediction.mode == "plain":  # a model whose guard read the clip plain says nothing
            continue
        was = analysis.plain.get(reading_id)
        changed = was and (was.label, was.unsure) != (prediction.label, prediction.unsure)
        lines[reading_id] = note + (f"; before: {reading_text(was)}" if changed else "")
    return lines


def verdicts_html(analysis: ClipAnalysis, names: dict[str, str],
                  calibrated: dict[str, str] | None = None) -> str:
    """The lead reading as a big card named after its model, the other readings (all
    models together included) as smaller cards beside or below it, wrapping with the width.
    ``calibrated``: reading id -> its calibration line (``calibration_lines``)."""
    calibrated = calibrated or {}
    lead, *others = readings(analysis).items()
    lead_note = "(all models together)" if lead[0] == FUSED else "· the best model on new voices"
    small = "".join(_card(names.get(k, k), p, lead=False, calibrated=calibrated.get(k, "")) for k, p in others)
    big = _card(names.get(lead[0], lead[0]), lead[1], lead=True, note=lead_note,
                calibrated=calibrated.get(lead[0], ""))
    return ("<div class='ser-cards' style='display:flex;flex-wrap:wrap;gap:0.75rem;align-items:stretch;"
            f"margin-bottom:0.75rem'>{big}"
            f"<div style='flex:2 1 20rem;display:flex;flex-wrap:wrap;gap:0.75rem'>{small}</div>"
            "</div>")


def agreement_text(analysis: ClipAnalysis, names: dict[str, str]) -> str:
    """One sentence on how many other readings name the lead reading's emotion (and, when
    the lead is unsure, that it is)."""
    (lead_id, lead), *others = readings(analysis).items()
    agreeing = [k for k, p in others if p.label == lead.label]
    lead_name = names.get(lead_id, lead_id)
    doubt = f"{lead_name} is not sure. " if lead.unsure else ""
    if not others:
        return doubt + "One model ran."
    if len(agreeing) == len(others):
        return doubt + f"Every reading says {lead.label}."
    if not agreeing:
        return doubt + f"No other reading says {lead.label}: the models disagree."
    return doubt + f"{len(agreeing)} of the {len(others)} other readings agree with {lead_name}."


def show_verdicts(analysis: ClipAnalysis, names: dict[str, str], calibrated: dict[str, str],
                  key: str, voice: str | None = None, setting: PageSetting | None = None) -> None:
    st.markdown(verdicts_html(analysis, names, calibrated), unsafe_allow_html=True)
    st.markdown(f"**{agreement_text(analysis, names)}** "
                f"{analysis.duration_s:.1f} s clip, {analysis.speech_s:.1f} s of it speech.")
    if analysis.mode == ADAPTED and setting:
        st.button("Read each clip alone", key=f"{key}-adapt-off", on_click=switch_setting,
                  args=(setting.page, False), icon=":material/tune:")
    elif calibrated and voice:
        turn_off_button(voice, key=f"{key}-voice-off")
    elif voice and analysis.mode == PLAIN and calibration_note(voice):
        st.caption(plain_reason(voice))


def show_segments(analysis: ClipAnalysis, names: dict[str, str], key: str) -> None:
    """A long clip as it was spoken: the lead reading's segments in words, then its timeline."""
    reader = names.get(analysis.lead, analysis.lead)
    st.markdown(f"**As spoken**, heard by {reader}: {segments_text(segments(analysis))}")
    show_figure(plots.timeline_figure(analysis, reader), key=f"{key}-timeline")
    st.markdown("**The whole clip**")


# --- the analysis panel -----------------------------------------------------------------
def _downloads(analysis: ClipAnalysis, name: str, key: str) -> None:
    stem = Path(name).stem or "clip"
    csv = pd.DataFrame(analysis.to_rows()).to_csv(index=False)
    document = json.dumps({"name": name, **analysis.to_dict()}, indent=2)
    # A wrapping row: fixed columns cut the labels to "Do…" on a narrow screen.
    with st.container(horizontal=True):
        # on_click="ignore": a download must not rerun the page (and re-render every clip).
        st.download_button("Download CSV", csv, file_name=f"{stem}-emotions.csv", mime="text/csv",
                           key=f"{key}-csv", on_click="ignore", icon=":material/download:")
        st.download_button("Download JSON", document, file_name=f"{stem}-emotions.json",
                           mime="application/json", key=f"{key}-json", on_click="ignore",
                           icon=":material/download:")


def render_analysis(audio: np.ndarray, name: str, key: str, voice: str | None = None,
                    analysis: ClipAnalysis | None = None, setting: PageSetting | None = None
                    ) -> ClipAnalysis | None:
    """Analyse 16 kHz mono float32 ``audio`` ``(n_samples,)`` with every model and lay
    out the results: for a long clip its segments and timeline first, then the verdicts,
    playback, probabilities, signal, downloads.

    ``name`` labels the downloads; ``key`` must be unique on the page (it prefixes
    the widgets' keys). The analysis and the signal figure are cached by a hash of
    the audio, so reruns do not recompute them. ``voice``: the page whose voice
    reference (``ui.voice``) applies, when the clip is of that voice. ``setting``: the clips it is
    read among (``ui.setting``), when the visitor adapts to them. ``analysis``: this audio's
    analysis when the caller already has it (a live take, analysed while it was recorded),
    made with the same voice calibration. Returns the analysis, or None when the models failed
    on the clip (a one-line error says so in its place).
    """
    models = require_models()
    digest = audio_digest(audio)
    if analysis is None:
        voice_digest, reference = (current_voice(voice) if voice else None) or (None, None)
        if setting and not setting.adapting and reference is None:
            setting = None  # kept for a voice this clip is not of: it reads alone
        analysis = _analysis(digest, voice_digest, audio, models, reference, setting)
        if isinstance(analysis, str):
            st.error(f"{plain(name)} cannot be analysed: {analysis}")
            return None
    names = model_names(models)
    if analysis.speech:
        if shows_timeline(analysis):
            show_segments(analysis, names, key)
        # A calibrated reading says so, and what it read plainly where that differs.
        note = (setting_note(setting.setting) if analysis.mode == ADAPTED and setting
                else voice and calibration_note(voice))
        show_verdicts(analysis, names, calibration_lines(analysis, note), key, voice, setting)
    else:
        st.warning(f"**No speech detected**: only {analysis.speech_s:.1f} s of this "
                   f"{analysis.duration_s:.1f} s clip sounds like a voice, so no emotion was predicted. "
                   "Try a recording with someone speaking, closer to the microphone.")
    st.audio(to_wav_bytes(audio), format="audio/wav")
    signal = _signal_figure(digest, audio)  # after the verdicts, which then show a moment sooner
    if analysis.speech:
        # One chart per reading, of a fixed width in one wrapping row, so that they read in the
        # cards' order at any width (pairs of pairs read down the columns); one wide figure
        # crushed its panel titles together.
        with st.container(horizontal=True):
            for model_id, prediction in readings(analysis).items():
                with st.container(width=PROBABILITIES_WIDTH_PX):
                    show_figure(plots.probabilities_figure(prediction, names.get(model_id, model_id)),
                                key=f"{key}-probabilities-{model_id}")
            with st.container(width=MAP_WIDTH_PX):
                reader = names.get(analysis.lead, analysis.lead)
                show_figure(plots.emotion_map_figure([position(analysis.lead_prediction.probs)],
                                                     f"Where {reader} places it"), key=f"{key}-map")
                st.caption(MAP_CAPTION)
    show_figure(signal, key=f"{key}-signal")
    if analysis.speech:
        _downloads(analysis, name, key)
    return analysis
