"""Calibrating the models to a voice: one reference recording of that voice, spoken plainly,
kept in the visitor's session per page (on Live, the visitor's own voice; on Upload, the voice
of the files), which the visitor can switch off and on again with one click."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from ser import audio as audio_io
from ser import config
from ser.inference import voice_reference
from ui.resources import require_models

# Session key: {page: {"digest", "speech_s", "reference": {model id: stats}, "on": bool}}.
# One reference per page: the files uploaded need not be the visitor's own voice.
VOICE_STATE = "voice_references"
# What the speaker reads for the calibration: the phoneticians' standard passage (Aesop, as in
# the IPA's Handbook), about ten seconds of everyday speech.
CALIBRATION_TEXT = ("The North Wind and the Sun were disputing which was the stronger, when a "
                    "traveller came along wrapped in a warm cloak. They agreed that the one who first "
                    "succeeded in making the traveller take his cloak off should be considered "
                    "stronger than the other.")
# Why a reading stays plain while the calibration is on (the voice guard, inference.Context).
VOICE_WAITS = ("Read plainly, though the voice calibration is on: it applies once two or more clips of "
               "this voice, heard here, sound different from each other against the reference. While "
               "they all sound alike (or the reference was not spoken plainly) each clip reads alone.")
# Whose voice a page calibrates to, as its cards name it, and its panel's title before a reference.
WHOSE = {"live": "your", "upload": "the speaker's"}
PANEL_TITLE = {"live": "Calibrate to my voice", "upload": "Calibrate to the speaker's voice"}


def _voice(page: str) -> dict | None:
    return st.session_state.get(VOICE_STATE, {}).get(page)


def current_voice(page: str) -> tuple[str, dict[str, np.ndarray]] | None:
    """``page``'s voice reference, when switched on, and a digest naming it (for caches)."""
    voice = _voice(page)
    return (voice["digest"], voice["reference"]) if voice and voice["on"] else None


def reference_digest(page: str) -> str | None:
    """The digest naming ``page``'s voice reference, switched on or off; None without one."""
    voice = _voice(page)
    return voice["digest"] if voice else None


def calibration_note(page: str) -> str | None:
    """What a calibrated reading's card says about its calibration, or None when it is off."""
    voice = _voice(page)
    if not (voice and voice["on"]):
        return None
    return f"calibrated to {WHOSE[page]} voice ({voice['speech_s']:.0f} s of speech)"


def switch_calibration(page: str, on: bool) -> None:
    """A button callback: the calibration on or off, the recording kept."""
    _voice(page)["on"] = on


def forget(page: str) -> None:
    """A button callback: drop ``page``'s reference recording."""
    st.session_state.get(VOICE_STATE, {}).pop(page, None)


def turn_off_button(page: str, key: str) -> None:
    """One click back to the models' plain reading, beside a calibrated result."""
    st.button("Turn the voice calibration off", key=key, on_click=switch_calibration, args=(page, False),
              icon=":material/tune:")


def _calibrate(page: str, data: bytes) -> None:
    """Make ``data`` (an audio file's bytes) ``page``'s reference, or say in one line why not."""
    try:
        audio = audio_io.load_audio(data)
        reference = voice_reference([audio], require_models())
    except audio_io.AudioError as err:
        st.error(f"Not calibrated: {err}")
        return
    st.session_state.setdefault(VOICE_STATE, {})[page] = {
        "digest": hashlib.sha1(audio.tobytes()).hexdigest()[:16],
        "speech_s": audio_io.speech_activity(audio).speech_s,  # speech heard, not the recording's length
        "reference": reference,
        "on": True,
    }
    st.rerun()


def voice_panel(page: str, intro: str, offer_upload: bool = False) -> None:
    """Record (or, with ``offer_upload``, upload) the speaker reading a passage in their
    everyday voice; while it is on, every analysis of that voice on ``page`` hears clips
    relative to it. ``intro``: whose voice it is and what to do, in the page's words. Measured
    on corpora the models never heard: docs/experiments.md."""
    whose = WHOSE[page]
    voice = _voice(page)
    if voice:
        state = "on" if voice["on"] else "off"
        title = f"Calibrated to {whose} voice: {state} ({voice['speech_s']:.0f} s of speech)"
    else:
        title = PANEL_TITLE[page]
    with st.expander(title, expanded=False, icon=":material/tune:"):
        st.markdown(intro + " The models then judge each clip against that voice's usual sound, once "
                    "they have heard two or more clips of it that differ. On voices the models never "
                    "heard it helped a little; the Compare page says how much.")
        st.markdown(f"> {CALIBRATION_TEXT}")
        if voice:
            with st.container(horizontal=True):
                st.button("Turn it off" if voice["on"] else "Turn it on", key=f"voice-switch-{page}",
                          on_click=switch_calibration, args=(page, not voice["on"]))
                st.button("Forget this voice", key=f"voice-forget-{page}", on_click=forget, args=(page,))
            return
        recording = st.audio_input("Record the passage", key=f"voice-recording-{page}")
        if recording is not None:
            _calibrate(page, recording.getvalue())
        if offer_upload:  # the speaker of uploaded files may be recorded elsewhere
            upload = st.file_uploader("Or upload a recording of it", key=f"voice-file-{page}",
                                      max_upload_size=config.MAX_UPLOAD_MB)
            if upload is not None:
                _calibrate(page, upload.getvalue())
