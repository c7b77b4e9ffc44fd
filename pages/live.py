"""Live: the models listen to the microphone, as a continuous stream or one clip at a time."""

import os
from datetime import datetime

import numpy as np
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from ser import audio as audio_io
from ser import config, plots
from ser.live import LiveRecording, RollingAnalysis, WindowResult
from ui.analysis import EMOTION_EMOJI, load_user_audio, render_analysis
from ui.resources import model_names, require_models

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
  networks set `{config.ICE_SERVERS_ENV}` to STUN/TURN servers, or use **One clip**, which
  always works.
"""
    )

models = require_models()
names = model_names(models)


def show_window(result: WindowResult, now_s: float) -> None:
    """The models' reading of the latest window: the fused verdict, then each model."""
    analysis = result.analysis
    lag_s = max(0.0, now_s - result.end_s)
    if not analysis.speech:
        st.info(f"No speech in the last {result.duration_s:.0f} s.", icon="🤫")
        return
    fused = analysis.fused
    # The emotion's colour as a bar beside the verdict: yellow text would not read on white.
    colour = config.EMOTION_COLOURS.get(fused.label, "#616161")
    st.markdown(
        f"<div style='border-left:0.5rem solid {colour};padding-left:0.75rem;font-size:2.2rem;"
        f"font-weight:700;line-height:1.2'>{EMOTION_EMOJI.get(fused.label, '')} {fused.label} "
        f"{fused.confidence:.0%}</div>",
        unsafe_allow_html=True,
    )
    for model_id, p in analysis.models.items():
        st.progress(p.confidence, text=f"**{names.get(model_id, model_id)}**: {p.label} {p.confidence:.0%}")
    st.caption(f"Heard in the {result.duration_s:.1f} s up to {lag_s:.1f} s ago. "
               "Big: all models together; bars: each model.")


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
    wave, verdict = st.columns([3, 2], gap="large")
    with wave:
        recent = window[-config.SAMPLE_RATE // 10:]  # the last 100 ms
        level = float(audio_io.frame_dbfs(recent).max()) if len(recent) else -120.0
        st.markdown(f":red[:material/radio_button_checked:] **Listening** · {now_s:.1f} s recorded · "
                    f"level {level:.0f} dBFS")
        st.vega_lite_chart(waveform_chart(window), width="stretch")
    with verdict:
        if result is None:
            st.caption("The models are listening…")
        else:
            show_window(result, now_s)


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
    render_analysis(audio, take["name"], key="live-take")


def continuous() -> None:
    if os.environ.get(config.LIVE_WEBRTC_ENV, "1") == "0":
        st.info(f"The microphone stream is switched off here (${config.LIVE_WEBRTC_ENV}=0). "
                "Record one clip in the other tab.")
        return
    state = st.session_state
    if "live_recording" not in state:
        state.live_recording = LiveRecording()
        state.live_rolling = RollingAnalysis(models)
    recording, rolling = state.live_recording, state.live_rolling

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
        state.pop("live_take", None)
    elif not active and state.get("live_active", False):
        state.live_take = {"audio": recording.take(), "dropped_s": recording.dropped_s,
                           "name": datetime.now().strftime("live-take-%Y%m%d-%H%M%S")}
    state.live_active = active

    # Keyed containers give the browser tests stable hooks.
    if ctx.state.playing:
        with st.container(key="live-view"):
            live_view(recording, rolling)
    elif not active and "live_take" in state:
        with st.container(key="live-take"):
            show_take(state.live_take)


def one_clip() -> None:
    clip = st.audio_input("Press the microphone, speak, then press stop", key="live-clip")
    if clip is None:
        st.caption("A few seconds of speech is enough; up to "
                   f"{config.MAX_DURATION_S:g} s is analysed.")
        return
    audio = load_user_audio(clip.getvalue(), "recording.wav")
    if audio is not None:
        with st.container(key="live-clip-result"):
            render_analysis(audio, "recording", key="live-clip")


stream_tab, clip_tab = st.tabs([":material/graphic_eq: Continuous", ":material/mic: One clip"])
with stream_tab:
    continuous()
with clip_tab:
    one_clip()
