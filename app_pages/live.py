"""Live: the models listen to the microphone, as a continuous stream or one clip at a time."""

import os
from datetime import datetime

import numpy as np
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from ser import audio as audio_io
from ser import config, plots
from ser.circumplex import position
from ser.live import LiveRecording, RollingAnalysis, TakeAnalyser, WindowResult, speech_since
from ser.modes import ADAPTED
from ui.analysis import (
    RESULT_KEY,
    announce_result,
    bring_new_result_into_view,
    calibration_lines,
    decode,
    render_analysis,
    show_clip,
    verdicts_html,
)
from ui.charts import show_figure
from ui.resources import get_fusion, model_names, models_loaded, require_models
from ui.setting import adapt_toggle, hear_recording, session_setting, setting_note
from ui.setting import reset as reset_setting
from ui.stream import keep_stream_on_page
from ui.view import bring_into_view
from ui.voice import calibration_note, current_voice, voice_panel

RESULT_STATE = "live_result"  # session key: the latest take or recording, shown under the tabs
STREAM_KEY = "live-mic"  # the stream component's key (its context in session state)
STREAM_BOX_KEY = "live-stream"  # the container of START/STOP, above the live view: scrolled to at START
PAGE = "live"  # this page's own setting and voice reference (ui.setting, ui.voice), apart from Upload's
CLIP_STATE = "live_clip_id"  # session key: the recording last analysed, so a rerun does not redo it
VERDICT_HEIGHT_PX = 270  # the live reading's box: fixed, so the page does not jump as it updates

# The models learnt from clean studio speech: the browser's echo cancelling, noise
# suppression and gain control reshape a voice, so the stream comes untouched.
MEDIA_CONSTRAINTS = {
    "audio": {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False},
    "video": False,
}
TRANSLATIONS = {
    "media_api_not_available": "This browser cannot stream a microphone here: open the app on "
                               "localhost or over https.",
    "device_ask_permission": "Allow the browser to use the microphone.",
    "device_not_available": "No microphone was found. Plug one in and press START again, "
                            "or record one clip in the other tab.",
    "device_access_denied": "The microphone is blocked. Allow it (the icon left of the address bar) "
                            "and press START again.",
}

st.title("Live emotion recognition")
st.markdown(
    "Speak into the microphone and watch the models read the emotion in your voice. "
    "**Continuous** streams the microphone and re-reads the last "
    f"{config.LIVE_WINDOW_S:g} seconds while you talk, then analyses the whole take when you stop; "
    "**One clip** records a single clip and analyses it."
)
with st.expander("Presenting this page"):
    st.markdown(
        f"""
- The models were trained on actors reading two fixed sentences with a clear emotion
  (RAVDESS): say *"Kids are talking by the door"* or *"Dogs are sitting by the door"* angrily,
  sadly, happily… Acted emotion reads far better than everyday talk.
- Warm up first (*Calibrate to my voice*): the same sentence said plainly, happily, sadly and
  angrily, four short takes. The models that use it (the panel names them) then hear every later
  clip against your voice, room and microphone; on voices they never heard that did better than
  anything else measured here. The panel says which takes they heard as asked: say any other
  one again there, more strongly.
- Speak close to the microphone in a quiet room. Silence and steady noise show as *no speech*
  and are never classified.
- The live reading follows the voice a second or two late: the models read
  {config.LIVE_WINDOW_S:g} s at a time and take a moment to run. The analysis after STOP is
  the one to discuss: a take of several emotions reads as its segments first, then as a whole.
- A take is analysed while you speak, so its full analysis follows STOP within a second. Takes
  end at {config.MAX_DURATION_S:g} s: there the take is closed and analysed. Recordings stay in
  the server's memory and are never written to disk.
- The browser asks for the microphone once. If it was blocked, allow it from the icon left of
  the address bar. Microphones work only on `localhost` or over https.
- The stream connects directly to the server, which works on one machine or a LAN. Across other
  networks the server needs STUN/TURN servers (see the README); **One clip** always works.
"""
    )

LEVEL_FLOOR_DBFS = -60.0  # the level meter's empty end; full scale (0 dBFS) is its full end
TRAIL_LENGTH = 8  # live readings the emotion map keeps as the dot's trail (about 4 s of them)
MAP_HEIGHT_PX = 260
STALE_LOOKBACK_S = 1.0  # "no speech" gives way to "still listening" after speech this recent


def show_window(result: WindowResult, window: np.ndarray, now_s: float, names: dict[str, str]) -> None:
    """The models' reading of the latest window (``window``: the audio up to now), as the same
    cards as a finished clip."""
    analysis = result.analysis
    lag_s = max(0.0, now_s - result.end_s)
    if not analysis.speech:
        # The reading lags the meter: speech since that window means the reading is stale.
        if speech_since(window, max(lag_s, STALE_LOOKBACK_S)):
            st.info("Still listening… the reading catches up in a moment.", icon=":material/hearing:")
        else:
            st.info(f"No speech in the last {result.duration_s:.0f} s.", icon="🤫")
        return
    adapted = session_setting(PAGE)
    note = setting_note(adapted.setting) if analysis.mode == ADAPTED and adapted else calibration_note(PAGE)
    st.markdown(verdicts_html(analysis, names, calibration_lines(analysis, note)), unsafe_allow_html=True)
    st.caption(f"The last {result.duration_s:g} s, heard {lag_s:.1f} s ago.")


def waveform_chart(window: np.ndarray) -> dict:
    """A Vega-Lite band chart of the window's envelope; the y scale follows the voice's level."""
    times_s, lower, upper = plots.waveform_envelope(window, n_points=300)
    times_s = times_s - len(window) / config.SAMPLE_RATE  # 0 is now
    # A fixed floor keeps silence flat instead of scaled up to fill the chart.
    extent = float(max(0.05, np.abs(window).max(initial=0.0)))
    return {
        "data": {"values": [{"t": float(t), "lo": float(lo), "hi": float(hi)}
                            for t, lo, hi in zip(times_s, lower, upper)]},
        "mark": {"type": "area", "color": "#1e88e5"},
        "encoding": {
            "x": {"field": "t", "type": "quantitative", "title": "seconds ago",
                  "scale": {"domain": [-config.LIVE_WINDOW_S, 0]}},
            "y": {"field": "lo", "type": "quantitative", "title": None,
                  "scale": {"domain": [-extent, extent]}, "axis": {"labels": False, "ticks": False}},
            "y2": {"field": "hi"},
        },
        "height": 180,
    }


def trail(result: WindowResult | None) -> list[tuple[float, float]]:
    """The live readings' places on the emotion map, oldest first, the newest ``result`` added
    once; the session keeps the last ``TRAIL_LENGTH`` of this take."""
    state = st.session_state
    points = state.setdefault("live_trail", [])
    if result is not None and result.analysis.speech and (not points or points[-1][0] != result.end_s):
        points.append((result.end_s, position(result.analysis.lead_prediction.probs)))
        del points[:-TRAIL_LENGTH]
    return [point for _, point in points]


def live_map(points: list[tuple[float, float]]):
    """The emotion map of ``points``, rebuilt only when they change: the view redraws 2.5 times a
    second, and building a plotly figure each time cost every visitor's refresh rate."""
    state = st.session_state
    if state.get("live_map_points") != points:
        state.live_map_points = points
        state.live_map = plots.emotion_map_figure(points, "Where the voice sits", height=MAP_HEIGHT_PX)
    return state.live_map


def analysers() -> tuple[RollingAnalysis, TakeAnalyser] | None:
    """The session's live analyses, made once the models are in; None while they load."""
    state = st.session_state
    if "live_rolling" not in state:
        if not models_loaded():
            return None
        models = require_models()
        state.live_rolling = RollingAnalysis(models, get_fusion())
        state.live_take = TakeAnalyser(models, get_fusion())
    state.live_rolling.voice = (current_voice(PAGE) or (None, None))[1]
    adapted = session_setting(PAGE)
    state.live_rolling.setting = adapted.setting if adapted else None
    return state.live_rolling, state.live_take


def close_take(recording: LiveRecording) -> None:
    """The take, analysed (all but its tail already was, while it was recorded), as the page's result."""
    take = recording.take()
    voice = current_voice(PAGE)
    analysis = None
    ready = analysers()
    adapted = session_setting(PAGE)
    if ready is not None and len(take) >= config.MIN_DURATION_S * config.SAMPLE_RATE:
        analysis = ready[1].finish(take, voice[1] if voice else None, adapted.setting if adapted else None)
    st.session_state[RESULT_STATE] = {"take": {
        "audio": take, "capped": recording.full, "analysis": analysis, "voice": voice and voice[0],
        "setting": adapted,
        "name": datetime.now().strftime("live-take-%Y-%m-%d-%H%M%S")}}
    announce_result()


@st.fragment(run_every=config.LIVE_REFRESH_S)
def live_view(recording: LiveRecording) -> None:
    """Redrawn while the stream plays: the level, the last seconds and the models' reading."""
    state = st.session_state
    if recording.full and not state.get("live_closed", False):
        # The take reached its cap: closed and analysed now; the whole page shows it.
        state.live_closed = True
        close_take(recording)
        st.rerun()
    window = recording.latest(config.LIVE_WINDOW_S)
    now_s = recording.duration_s
    ready = analysers()
    result = None
    if ready is not None:
        rolling, take = ready
        take.update(recording)
        result = rolling.update(window, now_s)
    recent = window[-config.SAMPLE_RATE // 10:]  # the last 100 ms
    level = float(audio_io.frame_dbfs(recent).max()) if len(recent) else -120.0
    if state.get("live_closed", False):
        st.markdown(f":material/stop_circle: **Take closed** at {now_s:.1f} s recorded: press STOP, "
                    "then START for a new take.")
    else:
        st.markdown(f":red[:material/radio_button_checked:] **Listening** · {now_s:.1f} s recorded · "
                    "loudness:")
    st.progress(min(1.0, max(0.0, 1.0 - level / LEVEL_FLOOR_DBFS)))
    # Full width and a fixed height: in a side column the reading wrapped onto three lines on
    # a projector, and each change of height made the page jump.
    with st.container(height=VERDICT_HEIGHT_PX, border=False, key="live-verdict"):
        if ready is None:
            st.caption("The models are loading: their reading starts as soon as they are in.")
        elif result is None:
            st.caption("The models are listening…")
        else:
            show_window(result, window, now_s, model_names(require_models()))
    wave, where = st.columns([3, 2], vertical_alignment="bottom")
    with wave:
        st.vega_lite_chart(waveform_chart(window), width="stretch")
    with where:
        show_figure(live_map(trail(result)), key="live-map")


def show_take(take: dict) -> None:
    """The finished take: downloadable as WAV, and analysed in full (with playback)."""
    st.subheader("Your take")
    audio = take["audio"]
    if take["capped"]:
        st.info(f"The take reached {config.MAX_DURATION_S:g} s, the longest analysed: it was closed "
                "there and analysed. Press STOP, then START for a new take.")
    wav = audio_io.to_wav_bytes(audio)
    try:
        audio_io.check_duration(audio)
    except audio_io.AudioError as err:
        st.warning(f"{err} Press START, speak for a few seconds, then press STOP.")
        st.audio(wav, format="audio/wav")
    else:
        voice = current_voice(PAGE)
        # The analysis made at STOP holds while the voice calibration and setting it used do.
        adapted = session_setting(PAGE)
        same = take["voice"] == (voice and voice[0]) and (adapted is None) == (take["setting"] is None)
        render_analysis(audio, take["name"], key="live-take", voice=PAGE,
                        analysis=take["analysis"] if same else None, setting=adapted)
    # After the analysis, whose verdict then opens the take on a projector's first screen;
    # on_click="ignore": downloading must not rerun the page.
    st.download_button("Download the take (WAV)", wav, file_name=f"{take['name']}.wav", mime="audio/wav",
                       key="live-take-wav", on_click="ignore", icon=":material/download:")


def continuous() -> bool:
    """The stream and its live view; True on the run where the live view first shows."""
    if os.environ.get(config.LIVE_WEBRTC_ENV, "1") == "0":
        st.info("The microphone stream is switched off on this server. Record one clip in the other tab.")
        return False
    state = st.session_state
    if "live_recording" not in state:
        state.live_recording = LiveRecording()
    recording = state.live_recording

    # Runs on the media thread, which must not touch Streamlit: it only buffers
    # this session's frames and hands them on unchanged.
    async def on_frames(frames):
        recording.push(frames)
        return frames

    st.markdown("Press **START**, allow the microphone, and speak. Press **STOP** to analyse the whole take.")
    # Drawn whether or not the models are in: a START while they load streams, and the
    # readings begin once they are.
    keep_stream_on_page(STREAM_KEY)
    with st.container(key=STREAM_BOX_KEY):
        ctx = webrtc_streamer(
            key=STREAM_KEY,
            mode=WebRtcMode.SENDONLY,
            rtc_configuration={"iceServers": config.ice_servers()},
            media_stream_constraints=MEDIA_CONSTRAINTS,
            queued_audio_frames_callback=on_frames,
            translations=TRANSLATIONS,
        )
    # A take runs from the first offer to STOP (or to its cap); starting before frames flow
    # keeps the first words of the new take and drops the old take's audio.
    active = ctx.state.playing or ctx.state.signalling
    if active and not state.get("live_active", False):
        recording.clear()
        if (ready := analysers()) is not None:
            for analysis in ready:
                analysis.reset()
        state.live_closed = False
        state.live_in_view = False
        state.live_trail = []
        state.pop(RESULT_STATE, None)
    elif not active and state.get("live_active", False) and not state.get("live_closed", False):
        close_take(recording)
    state.live_active = active

    if ctx.state.playing:
        with st.container(key="live-view"):  # a stable hook for the browser tests
            live_view(recording)
        if not state.get("live_in_view", False):
            state.live_in_view = True
            return True
    return False


def one_clip() -> None:
    clip = st.audio_input("Press the microphone, speak, then press stop", key="live-clip")
    if clip is None:
        st.caption("A few seconds of speech is enough; up to "
                   f"{config.MAX_DURATION_S:g} s is analysed.")
    elif clip.file_id != st.session_state.get(CLIP_STATE):
        st.session_state[CLIP_STATE] = clip.file_id
        name = datetime.now().strftime("recording-%Y-%m-%d-%H%M%S.wav")
        recording = decode(clip.getvalue(), name)
        hear_recording(PAGE, recording.audio)
        st.session_state[RESULT_STATE] = {"clip": recording}
        announce_result()


def setting_panel() -> None:
    """Adapting to this session: every window the stream hears joins the session's setting."""
    with st.container(horizontal=True, vertical_alignment="center"):
        on = adapt_toggle(PAGE, "Adapt to this session",
                          "The models read each moment against what they heard so far in this session "
                          "(your room, your microphone, your voice) rather than against the corpora "
                          "they learnt on. It needs a minute of varied speech to help; while everything "
                          "heard sounds alike, they read each moment alone.")
        adapted = session_setting(PAGE)
        if on and adapted:
            heard = adapted.setting
            st.caption(f"Heard so far: {heard.n_clips} stretch{'es' if heard.n_clips != 1 else ''}, "
                       f"{heard.speech_s:.0f} s of speech.")
            st.button("Start afresh", key="adapt-reset", on_click=reset_setting, args=(PAGE,))


voice_panel(PAGE, "Every voice sounds different before any emotion. Record yourself reading "
            "this passage **in your everyday voice**, neither acting nor whispering.", offer_warm_up=True)
setting_panel()
stream_tab, clip_tab = st.tabs([":material/graphic_eq: Continuous", ":material/mic: One clip"])
with stream_tab:
    streaming_began = continuous()
with clip_tab:
    one_clip()

# The latest take or recording, whichever tab it came from, under the tabs: one result at a
# time keeps the page short on a projector.
latest = st.session_state.get(RESULT_STATE)
if latest:
    with st.container(key=RESULT_KEY):
        if "take" in latest:
            show_take(latest["take"])
        else:
            show_clip(latest["clip"], key="live-clip", voice=PAGE, setting=session_setting(PAGE))
    bring_new_result_into_view()
# STOP, the meter and the reading on one screen, once per take. Last on the page: an element
# drawn above the stream would make the browser re-create its component.
if streaming_began:
    bring_into_view(f".st-key-{STREAM_BOX_KEY}")
