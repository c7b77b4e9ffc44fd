"""Adapting to the setting: the clips a visitor gives in one setting (a batch of uploads, a
live session) read among each other (``ser.modes``), kept in that visitor's session."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import streamlit as st

from ser.inference import hear
from ser.modes import Setting, VoiceReference
from ui.resources import require_models
from ui.voice import current_voice, reference_digest

# Session key: {page: {"on": bool, "digest": str | None, "setting": Setting, "id": str,
# "voice": the digest of the last voice reference it was kept for}}. One setting per page: the
# uploads of a session and its live takes need not share a room.
SETTING_STATE = "settings"


@dataclass(frozen=True)
class PageSetting:
    """What a page's clips are read among: the page it belongs to, a digest naming what it
    heard (for caches), the setting, and whether the visitor adapts to it (else it is kept
    only for the voice's guard, and a clip not of that voice reads alone)."""

    page: str
    digest: str
    setting: Setting
    adapting: bool = True


def _running() -> Setting:
    """A page's running setting: its clips are read as they come, each among those heard up to
    it (``modes.Setting.one_by_one``); a batch is read at once (``batch_setting``)."""
    return Setting(one_by_one=True)


def _state(page: str) -> dict:
    settings = st.session_state.setdefault(SETTING_STATE, {})
    state = settings.setdefault(page, {"on": False, "digest": None, "setting": _running(),
                                       "id": uuid.uuid4().hex, "voice": None})
    voice = reference_digest(page)
    if voice and voice != state["voice"]:
        if not state["on"]:  # kept only for the voice's guard: another voice's clips say nothing of this one
            state.update(digest=None, setting=_running(), id=uuid.uuid4().hex)
        state["voice"] = voice
    return state


def _toggle_key(page: str) -> str:
    return f"adapt-{page}"


def switch(page: str, on: bool) -> None:
    """A button callback: adapting on or off, the toggle with it; what was heard is kept."""
    _state(page)["on"] = on
    st.session_state[_toggle_key(page)] = on


def adapt_toggle(page: str, label: str, help_text: str) -> bool:
    """The switch for ``page``'s setting; returns whether adapting is on."""
    key = _toggle_key(page)
    st.session_state.setdefault(key, _state(page)["on"])
    on = st.toggle(label, key=key, help=help_text)
    _state(page)["on"] = on
    return on


def _listening(page: str) -> bool:
    """Whether ``page`` keeps what it hears: adapting is on, or its plain voice reference is (the
    voice's guard judges the reference by the voice's clips, ``inference.Context``); a warm-up's
    guard was judged on its own takes and needs none."""
    voice = current_voice(page)
    return _state(page)["on"] or (voice is not None and isinstance(voice[1], VoiceReference))


def batch_setting(page: str, clips: list) -> PageSetting | None:
    """``page``'s setting made of ``clips`` (``ui.analysis.Clip``; those that decoded), and a
    digest naming it for caches; None while the page does not listen (``_listening``) or
    fewer than two clips are in."""
    state = _state(page)
    # Kept only for the voice's guard, the setting is that voice's clips: the examples are others'.
    audios = [clip.audio for clip in clips if clip.audio is not None and (state["on"] or not clip.example)]
    if not _listening(page) or len(audios) < 2:
        return None
    digest = hashlib.blake2b(b"".join(hashlib.blake2b(a.tobytes(), digest_size=16).digest() for a in audios),
                             digest_size=16).hexdigest()
    if state["digest"] != digest:
        setting = Setting()
        models = require_models()
        with st.spinner("Listening to the clips together…"):
            for audio in audios:
                hear(audio, models, setting)
        state.update(digest=digest, setting=setting)
    return PageSetting(page, state["digest"], state["setting"], state["on"])


def session_setting(page: str) -> PageSetting | None:
    """``page``'s running setting (a live session adds to it as it listens), or None while the
    page does not listen (``_listening``)."""
    state = _state(page)
    if not _listening(page):
        return None
    # Named by a random id of this visitor's setting (analyses are cached for the whole server,
    # and an object's id() can be reused by another visitor's) and by how much it has heard.
    return PageSetting(page, f"{state['id']}-{state['setting'].n_clips}", state["setting"], state["on"])


def hear_recording(page: str, audio) -> None:
    """A recording the visitor made on ``page`` (16 kHz mono) joins its running setting, while
    the page listens: the next readings are among it, and the voice's guard judges by it."""
    state = _state(page)
    if _listening(page) and audio is not None:
        hear(audio, require_models(), state["setting"])


def reset(page: str) -> None:
    """Forget what ``page``'s setting heard (a new room, a new speaker)."""
    _state(page).update(digest=None, setting=_running(), id=uuid.uuid4().hex)


def setting_note(setting: Setting) -> str:
    """What an adapted reading's card says about what it rests on."""
    return (f"adapted to this setting ({setting.n_clips} clip{'s' if setting.n_clips != 1 else ''}, "
            f"{setting.speech_s:.0f} s of speech)")
