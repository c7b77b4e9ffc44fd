"""Calibrating the models to the visitor's voice: one recording of theirs, kept in the session,
which the visitor can switch off and on again with one click."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from ser import audio as audio_io
from ser.inference import voice_reference
from ui.resources import require_models

# Session key: {"digest", "speech_s", "reference": {model id: stats}, "on": bool}
VOICE_STATE = "voice_reference"
# What the visitor reads for the calibration: the phoneticians' standard passage (Aesop, as in
# the IPA's Handbook), about ten seconds of everyday speech.
CALIBRATION_TEXT = ("The North Wind and the Sun were disputing which was the stronger, when a "
                    "traveller came along wrapped in a warm cloak. They agreed that the one who first "
                    "succeeded in making the traveller take his cloak off should be considered "
                    "stronger than the other.")


def current_voice() -> tuple[str, dict[str, np.ndarray]] | None:
    """The session's voice reference, when switched on, and a digest naming it (for caches)."""
    voice = st.session_state.get(VOICE_STATE)
    return (voice["digest"], voice["reference"]) if voice and voice["on"] else None


def calibration_note() -> str | None:
    """What a calibrated reading's card says about its calibration, or None when it is off."""
    voice = st.session_state.get(VOICE_STATE)
    if not (voice and voice["on"]):
        return None
    return f"calibrated to your voice ({voice['speech_s']:.0f} s of speech)"


def switch_calibration(on: bool) -> None:
    """A button callback: the calibration on or off, the recording kept."""
    st.session_state[VOICE_STATE]["on"] = on


def turn_off_button(key: str) -> None:
    """One click back to the models' plain reading, beside a calibrated result."""
    st.button("Turn the voice calibration off", key=key, on_click=switch_calibration, args=(False,),
              icon=":material/tune:")


def voice_panel() -> None:
    """Record the visitor reading a sentence in their everyday voice; while it is on, every
    analysis of their voice in the session hears clips relative to it. Measured on corpora the
    models never heard: docs/experiments.md."""
    voice = st.session_state.get(VOICE_STATE)
    if voice:
        state = "on" if voice["on"] else "off"
        title = f"Calibrated to your voice: {state} ({voice['speech_s']:.0f} s of speech)"
    else:
        title = "Calibrate to my voice"
    with st.expander(title, expanded=False, icon=":material/tune:"):
        st.markdown("Every voice sounds different before any emotion. Record yourself reading this "
                    "sentence **in your everyday voice**, neither acting nor whispering; the models then "
                    "judge each clip against your own usual sound. It helped on voices the models never "
                    "heard, most of all for telling *neutral* apart.")
        st.markdown(f"> {CALIBRATION_TEXT}")
        if voice:
            with st.container(horizontal=True):
                st.button("Turn it off" if voice["on"] else "Turn it on", key="voice-switch",
                          on_click=switch_calibration, args=(not voice["on"],))
                if st.button("Forget my voice", key="voice-forget"):
                    st.session_state.pop(VOICE_STATE)
                    st.rerun()
            return
        recording = st.audio_input("Record your voice", key="voice-recording")
        if recording is None:
            return
        try:
            audio = audio_io.load_audio(recording.getvalue())
            reference = voice_reference([audio], require_models())
        except audio_io.AudioError as err:
            st.error(f"Not calibrated: {err}")
            return
        st.session_state[VOICE_STATE] = {
            "digest": hashlib.sha1(audio.tobytes()).hexdigest()[:16],
            "speech_s": audio_io.speech_activity(audio).speech_s,  # speech heard, not the recording's length
            "reference": reference,
            "on": True,
        }
        st.rerun()
