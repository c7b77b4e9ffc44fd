"""Calibrating the models to the visitor's voice: one recording of theirs, kept in the session."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from ser import config
from ser.audio import AudioError, load_audio
from ser.inference import voice_reference
from ui.resources import require_models

VOICE_STATE = "voice_reference"  # session key: {"digest", "speech_s", "reference": {model id: stats}}


def current_voice() -> tuple[str, dict[str, np.ndarray]] | None:
    """The session's voice reference and a digest naming it (for caches), or None."""
    voice = st.session_state.get(VOICE_STATE)
    return (voice["digest"], voice["reference"]) if voice else None


def voice_panel() -> None:
    """Record ~10 s of the visitor's voice; from then on every analysis in the session hears
    clips relative to it. Measured on corpora the models never heard: docs/experiments.md."""
    voice = st.session_state.get(VOICE_STATE)
    with st.expander("Calibrate to my voice" + (" — on" if voice else ""), expanded=False):
        st.markdown("Every voice sounds different before any emotion. Record **about 10 seconds** of "
                    "yourself speaking calmly (any words); the models then judge each clip against "
                    "your own usual sound. It helped on voices the models never heard, most of all "
                    "for telling *neutral* apart.")
        if voice:
            st.success(f"Calibrated to your voice ({voice['speech_s']:.0f} s of speech).")
            if st.button("Forget my voice", key="voice-forget"):
                st.session_state.pop(VOICE_STATE)
                st.rerun()
            return
        recording = st.audio_input("Record your voice", key="voice-recording")
        if recording is None:
            return
        try:
            audio = load_audio(recording.getvalue())
            reference = voice_reference([audio], require_models())
        except AudioError as err:
            st.error(f"Not calibrated: {err}")
            return
        st.session_state[VOICE_STATE] = {
            "digest": hashlib.sha1(audio.tobytes()).hexdigest()[:16],
            "speech_s": len(audio) / config.SAMPLE_RATE,
            "reference": reference,
        }
        st.rerun()
