"""Live: the models listen to the microphone, as a continuous stream or one clip at a time."""

import os
from datetime import datetime

import numpy as np
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from ser import audio as audio_io
from ser import config, plots
from ser.live import LiveRecording, RollingAnalysis, WindowResult
from ui.analysis import RESULT_KEY, decode, render_analysis, show_clip, verdicts_html
from ui.resources import get_fusion, model_names, require_models
from ui.voice import current_voice, voice_panel

RESULT_STATE = "live_result"  # session key: the latest take or recording, shown under the tabs
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
- Speak close to the microphone in a quiet room. Silence and steady noise show as *no speech*
  and are never classified.
- The live reading follows the voice a second or two late: the models read
  {config.LIVE_WINDOW_S:g} s at a time and take a moment to run. The full analysis after STOP
  is the one to discuss.
- Takes are kept up to {config.MAX_DURATION_S:g} s (longer ones keep their end). Recordings stay
  in the server's memory and are never written to disk.
- The browser asks for the microphone once. If it was blocked, allow it from the icon left of
  the address bar. Microphones work only on `localhost` or over https.
- The stream connects directly to the server, which works on one machine or a LAN. Across other
  networks the server needs STUN/TURN servers (see the README); **One clip** always works.
"""
    )

models = require_models()
names = model_names(models)


def show_window(result: WindowResult, now_s: float) -> None:
    """The models' reading of the latest window, as the same cards as a finished clip."""
    analysis = result.analysis
    lag_s = max(0.0, now_s - result.end_s)
    if not analysis.speech:
        st.info(f"No speech in the last {result.duration_s:.0f} s.", icon="🤫")
        return
    st.markdown(verdicts_html(analysis, names), unsafe_allow_html=True)
    st.caption(f"Heard in the {result.duration_s:.1f} s up to {lag_s:.1f} s ago.")


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


@st.fragment(run_every=config.LIVE_REFRESH_S)
def live_view(recording: LiveRecording, rolling: RollingAnalysis) -> None:
    """Redrawn twice a second while the stream plays: the last seconds and the models' reading."""
    window = recording.latest(config.LIVE_WINDOW_S)
    now_s = recording.received_s
    result = rolling.update(window, now_s)
    recent = window[-config.SAMPLE_RATE // 10:]  # the last 100 ms
    level = float(audio_io.frame_dbfs(recent).max()) if len(recent) else -120.0
    st.markdown(f":red[:material/radio_button_checked:] **Listening** · {now_s:.1f} s recorded · "
                f"level {level:.0f} dBFS")
    # Full width and a fixed height: in a side column the reading wrapped onto three lines on
    # a projector, and each change of height made the page jump.
    with st.container(height=VERDICT_HEIGHT_PX, border=False, key="live-verdict"):
        if result is None:
            st.caption("The models are listening…")
        else:
            show_window(result, now_s)
    st.vega_lite_chart(waveform_chart(window), width="stretch")


def show_take(take: dict) -> None:
    """The finished take: downloadable as WAV, and analysed in full (with playback)."""
    st.subheader("Your take")
    audio = take["audio"]
    if take["dropped_s"]:
        st.info(f"The take ran past {config.MAX_DURATION_S:g} s: its first {take['dropped_s']:.0f} s "
                "were dropped and the rest is analysed.")
    wav = audio_io.to_wav_bytes(audio)
    # on_click="ignore": downloading must not rerun the page.
    st.download_button("Download the take (WAV)", wav, file_name=f"{take['name']}.wav", mime="audio/wav",
                       key="live-take-wav", on_click="ignore", icon=":material/download:")
    try:
        audio_io.check_duration(audio)
    except audio_io.AudioError as err:
        st.warning(f"{err} Press START, speak for a few seconds, then press STOP.")
        st.audio(wav, format="audio/wav")
        return
    render_analysis(audio, take["name"], key="live-take", own_voice=True)


def continuous() -> None:
    if os.environ.get(config.LIVE_WEBRTC_ENV, "1") == "0":
        st.info("The microphone stream is switched off on this server. Record one clip in the other tab.")
        return
    state = st.session_state
    if "live_recording" not in state:
        state.live_recording = LiveRecording()
        state.live_rolling = RollingAnalysis(models, get_fusion())
    recording, rolling = state.live_recording, state.live_rolling
    rolling.voice = (current_voice() or (None, None))[1]

    # Runs on the media thread, which must not touch Streamlit: it only buffers
    # this session's frames and hands them on unchanged.
    async def on_frames(frames):
        recording.push(frames)
        return frames

    st.markdown("Press **START**, allow the microphone, and speak. Press **STOP** to analyse the whole take.")
    ctx = webrtc_streamer(
        key="live-mic",
        mode=WebRtcMode.SENDONLY,
        rtc_configuration={"iceServers": config.ice_servers()},
        media_stream_constraints=MEDIA_CONSTRAINTS,
        queued_audio_frames_callback=on_frames,
        translations=TRANSLATIONS,
    )
    # A take runs from the first offer to STOP; starting before frames flow
    # keeps the first words of the new take and drops the old take's audio.
    active = ctx.state.playing or ctx.state.signalling
    if active and not state.get("live_active", False):
        recording.clear()
        rolling.reset()
        state.pop(RESULT_STATE, None)
    elif not active and state.get("live_active", False):
        state[RESULT_STATE] = {"take": {"audio": recording.take(), "dropped_s": recording.dropped_s,
                                        "name": datetime.now().strftime("live-take-%Y%m%d-%H%M%S")}}
    state.live_active = active

    if ctx.state.playing:
        with st.container(key="live-view"):  # a stable hook for the browser tests
            live_view(recording, rolling)


def one_clip() -> None:
    clip = st.audio_input("Press the microphone, speak, then press stop", key="live-clip")
    if clip is None:
        st.caption("A few seconds of speech is enough; up to "
                   f"{config.MAX_DURATION_S:g} s is analysed.")
    elif clip.file_id != st.session_state.get(CLIP_STATE):
        st.session_state[CLIP_STATE] = clip.file_id
        st.session_state[RESULT_STATE] = {"clip": decode(clip.getvalue(), "recording.wav")}


voice_panel(models)
stream_tab, clip_tab = st.tabs([":material/graphic_eq: Continuous", ":material/mic: One clip"])
with stream_tab:
    continuous()
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
            show_clip(latest["clip"], key="live-clip", own_voice=True)
