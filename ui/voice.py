"""Calibrating the models to a voice, kept in the visitor's session per page (on Live, the
visitor's own voice; on Upload, the voice of the files), which the visitor can switch off and
on again with one click: an acted warm-up (one sentence said four ways, on Live) or one
reference recording of that voice, spoken plainly."""

from __future__ import annotations

import hashlib

import streamlit as st

from ser import audio as audio_io
from ser import config
from ser.inference import uses_warm_up, voice_reference, warm_up_reference
from ser.modes import VoiceReference, WarmUp, WarmUpReading
from ui.resources import model_names, require_models
from ui.scores import left_out_of_warm_up

# Session key: {page: {"digest", "speech_s", "reference": modes.VoiceReference or modes.WarmUp,
# "on": bool, and for a warm-up "takes": {emotion: the take's audio file bytes}}}. One reference
# per page: the files uploaded need not be the visitor's own voice.
VOICE_STATE = "voice_references"
WARM_UP_FAILED = "warm_up_failed"  # session key: {page: (digest of the takes, why they were refused)}
# Session key: {page: the panel title it stays open under, or None: the next one}. The title says
# what the panel holds, so a change made inside it (a warm-up made, calibration turned off) makes
# it a new expander, closed by default: the visitor would lose the verdict they just asked for.
# Opened, it keeps expanded=True while the title stays: a flag that fell back to False on the
# next rerun would close it under the visitor's eyes.
PANEL_OPEN = "voice_panel_open"
# What the speaker reads for the calibration: the phoneticians' standard passage (Aesop, as in
# the IPA's Handbook), about ten seconds of everyday speech.
CALIBRATION_TEXT = ("The North Wind and the Sun were disputing which was the stronger, when a "
                    "traveller came along wrapped in a warm cloak. They agreed that the one who first "
                    "succeeded in making the traveller take his cloak off should be considered "
                    "stronger than the other.")
# Why a reading stays plain while the calibration is on (the guards, inference.Context).
WARM_UP_UNUSED = ("Read as heard, though the warm-up is on: its four takes did not sound like the four "
                  "emotions asked for to this model, so it reads each clip alone. Say the takes again in "
                  "the panel above, acting each way more strongly.")
VOICE_WAITS = ("Read plainly, though the voice calibration is on: it applies once two or more clips of "
               "this voice, heard here, sound different from each other against the reference. While "
               "they all sound alike (or the reference was not spoken plainly) each clip reads alone.")
# Whose voice a page calibrates to, as its cards name it, and its panel's title before a reference.
WHOSE = {"live": "your", "upload": "the speaker's"}
PANEL_TITLE = {"live": "Calibrate to my voice", "upload": "Calibrate to the speaker's voice"}


def _voice(page: str) -> dict | None:
    return st.session_state.get(VOICE_STATE, {}).get(page)


def current_voice(page: str) -> tuple[str, VoiceReference | WarmUp] | None:
    """``page``'s voice reference or warm-up, when switched on, and a digest naming it (for caches)."""
    voice = _voice(page)
    return (voice["digest"], voice["reference"]) if voice and voice["on"] else None


def reference_digest(page: str) -> str | None:
    """The digest naming ``page``'s voice reference, switched on or off; None without one."""
    voice = _voice(page)
    return voice["digest"] if voice else None


def _warmed_up(voice: dict | None) -> bool:
    return bool(voice) and isinstance(voice["reference"], WarmUp)


def calibration_note(page: str) -> str | None:
    """What a calibrated reading's card says about its calibration, or None when it is off."""
    voice = _voice(page)
    if not (voice and voice["on"]):
        return None
    if _warmed_up(voice):
        return f"after {WHOSE[page]} warm-up ({voice['speech_s']:.0f} s of speech)"
    return f"calibrated to {WHOSE[page]} voice ({voice['speech_s']:.0f} s of speech)"


def plain_reason(page: str) -> str:
    """Why a reading of ``page`` stayed plain while its calibration is on."""
    return WARM_UP_UNUSED if _warmed_up(_voice(page)) else VOICE_WAITS


def switch_calibration(page: str, on: bool) -> None:
    """A button callback: the calibration on or off, the recording kept."""
    _voice(page)["on"] = on
    _keep_open(page)


def _keep_open(page: str) -> None:
    st.session_state.setdefault(PANEL_OPEN, {})[page] = None


def _take_key(page: str, emotion: str, again: bool = False) -> str:
    return f"warm-up-{'again-' if again else ''}{page}-{emotion}"


def forget(page: str) -> None:
    """A button callback: drop ``page``'s reference recording, or its warm-up's four takes."""
    st.session_state.get(VOICE_STATE, {}).pop(page, None)
    _keep_open(page)
    for emotion in config.WARM_UP_PROMPTS:
        for again in (False, True):
            st.session_state.pop(_take_key(page, emotion, again), None)


def turn_off_button(page: str, key: str) -> None:
    """One click back to the models' plain reading, beside a calibrated result."""
    label = "Turn the warm-up off" if _warmed_up(_voice(page)) else "Turn the voice calibration off"
    st.button(label, key=key, on_click=switch_calibration, args=(page, False),
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
    _keep_open(page)
    st.rerun()


def _warm_up(page: str, takes: dict[str, bytes]) -> None:
    """Make the four ``takes`` (emotion -> an audio file's bytes) ``page``'s warm-up, or say in
    one line why not (once per set of takes: a refusal is not recomputed on every rerun)."""
    digest = hashlib.sha1(b"".join(takes[e] for e in config.WARM_UP_PROMPTS)).hexdigest()[:16]
    if (_voice(page) or {}).get("digest") == digest:  # these takes are the warm-up already
        return
    failed = st.session_state.setdefault(WARM_UP_FAILED, {}).get(page)
    if failed and failed[0] == digest:
        st.error(failed[1])
        return
    try:
        reference = warm_up_reference({e: audio_io.load_audio(data) for e, data in takes.items()},
                                      require_models())
    except audio_io.AudioError as err:
        st.session_state[WARM_UP_FAILED][page] = (digest, f"Not warmed up: {err}")
        st.error(f"Not warmed up: {err}")
        return
    # The takes' bytes are kept with it: any one can be said again, and the warm-up remade from
    # it and the other three (a recorder that held one cannot be shown again with it: moved into
    # the panel as it is now titled, Streamlit's recorder fails to reload its recording).
    st.session_state.setdefault(VOICE_STATE, {})[page] = {
        "digest": digest, "speech_s": reference.speech_s, "reference": reference, "on": True,
        "takes": dict(takes)}
    for emotion in config.WARM_UP_PROMPTS:  # the take said again is now the warm-up's own
        st.session_state.pop(_take_key(page, emotion, again=True), None)
    _keep_open(page)
    st.rerun()


def warm_up_verdict(page: str) -> str:
    """Which models read against ``page``'s warm-up, which found it not acted (its guard), and
    which never read against one (``ReadingMode.holds``)."""
    warm_up = _voice(page)["reference"]
    everyone = require_models()
    names = model_names(everyone)
    models = [m for m in everyone if m.id in warm_up.models]
    used = [names[m.id] for m in models if uses_warm_up(m, warm_up)]
    unused = [names[m.id] for m in models if not uses_warm_up(m, warm_up)]
    if not used:
        verdict = ("The models did not hear the four emotions asked for in these takes, so they read each "
                   "clip as heard. Say the takes again below, acting each way more strongly.")
    else:
        verdict = ("Read against this warm-up: " + ", ".join(used) + "."
                   + (f" {', '.join(unused)} did not hear the four emotions in it and read{'s' if len(unused) == 1 else ''} "
                      "each clip as heard." if unused else ""))
    notes = [takes_heard(names[m.id], warm_up.models[m.id]) for m in models] + [_left_out_note(everyone)]
    return "\n".join([verdict, "", *(f"- {note}" for note in notes if note)])


def takes_heard(name: str, reading: WarmUpReading) -> str:
    """How the model ``name`` heard each take of a warm-up (``WarmUpReading.heard_as``), so the
    speaker knows which way to say again more strongly."""
    labels = [config.EMOTIONS[k] for k in reading.heard_as()]
    asked = [config.EMOTIONS[k] for k in reading.prompts]
    missed = [f"said {config.WARM_UP_HOW[a]}, it sounded {h}" for a, h in zip(asked, labels, strict=True) if a != h]
    if not missed:
        return f"{name} heard all {len(asked)} takes as asked."
    return (f"{name} heard {len(asked) - len(missed)} of the {len(asked)} takes as asked ({'; '.join(missed)}): "
            "say those again below, more strongly.")


def warm_up_intro() -> str:
    """What the warm-up does, naming the models that use it and those that never do."""
    models = require_models()
    names = model_names(models)
    left_out = {card.id for card in left_out_of_warm_up([m.card for m in models])}
    users = [names[m.id] for m in models if m.id not in left_out]
    one = "s" if len(users) == 1 else ""
    return (f"{' and '.join(users) or 'The models'} learn{one} which way your voice, your room and your "
            "microphone lean from four short takes of one sentence, each said as asked, and "
            f"hear{one} every clip after it against them. On voices never heard this did better than any "
            f"other way of tuning; the Compare page says how much. {_left_out_note(models)}").strip()


def _left_out_note(models) -> str:
    """One sentence naming the models that never read against a warm-up (``left_out_of_warm_up``;
    the Compare page gives their figures), or ""."""
    names = model_names(models)
    others = [names[card.id] for card in left_out_of_warm_up([m.card for m in models])]
    if not others:
        return ""
    one = len(others) == 1
    return (f"{' and '.join(others)} read{'s' if one else ''} each clip as heard whatever the warm-up: "
            f"in testing it made some of {'its' if one else 'their'} readings worse.")


def warm_up_recorders(page: str, again: bool = False) -> None:
    """Four recorders, one per prompted emotion; once all four hold a take, the warm-up is made.
    ``again``: empty recorders beside a warm-up made; one take said again remakes it from that
    take and the warm-up's other three."""
    if again:
        st.markdown(f"Say any take of **\u201c{config.WARM_UP_SENTENCE}\u201d** again and the warm-up is "
                    "made anew from it and the other three.")
    else:
        st.markdown(f"Say **\u201c{config.WARM_UP_SENTENCE}\u201d** four times, one way per recorder, as an "
                    "actor would: clearly, and each way unmistakably.")
    takes = dict(_voice(page).get("takes", {})) if again else {}
    said = 0
    ways = list(config.WARM_UP_HOW.items())
    for row in range(0, len(ways), 2):  # two abreast: four in a row crowd a projector's width
        for column, (n, (emotion, how)) in zip(st.columns(2), enumerate(ways[row:row + 2], start=row + 1)):
            with column:
                take = st.audio_input(f"{n}. {how.capitalize()} ({emotion})", key=_take_key(page, emotion, again))
            if take is not None:
                takes[emotion], said = take.getvalue(), said + 1
    if len(takes) == len(config.WARM_UP_PROMPTS) and (said or not again):
        _warm_up(page, takes)
    elif not again:
        st.caption(f"{len(takes)} of {len(config.WARM_UP_PROMPTS)} takes recorded.")


def _plain_reference(page: str, intro: str, offer_upload: bool) -> None:
    """Record (or upload) the passage read in the speaker's everyday voice."""
    st.markdown(intro + " The models then judge each clip against that voice's usual sound, once "
                "they have heard two or more clips of it that differ. On voices the models never "
                "heard it helped a little; the Compare page says how much.")
    st.markdown(f"> {CALIBRATION_TEXT}")
    recording = st.audio_input("Record the passage", key=f"voice-recording-{page}")
    if recording is not None:
        _calibrate(page, recording.getvalue())
    if offer_upload:  # the speaker of uploaded files may be recorded elsewhere
        upload = st.file_uploader("Or upload a recording of it", key=f"voice-file-{page}",
                                  max_upload_size=config.MAX_UPLOAD_MB)
        if upload is not None:
            _calibrate(page, upload.getvalue())


def voice_panel(page: str, intro: str, offer_upload: bool = False, offer_warm_up: bool = False) -> None:
    """Tune the models to the speaker: with ``offer_warm_up``, by an acted warm-up (four takes,
    ``warm_up_recorders``) or else by a passage read in their everyday voice, recorded (or,
    with ``offer_upload``, uploaded). While it is on, every analysis of that voice on ``page``
    hears clips relative to it. ``intro``: whose voice it is and what to do, in the page's words.
    Measured on corpora the models never heard: docs/experiments.md."""
    whose = WHOSE[page]
    voice = _voice(page)
    if voice:
        state = "on" if voice["on"] else "off"
        if voice["on"] and _warmed_up(voice) and not any(uses_warm_up(m, voice["reference"])
                                                         for m in require_models()):
            state = "not used"  # the guard refused it for every model; the panel says why
        what = "Warmed up to" if _warmed_up(voice) else "Calibrated to"
        title = f"{what} {whose} voice: {state} ({voice['speech_s']:.0f} s of speech)"
    else:
        title = PANEL_TITLE[page]
    open_under = st.session_state.setdefault(PANEL_OPEN, {})
    if page in open_under and open_under[page] is None:
        open_under[page] = title
    with st.expander(title, expanded=open_under.get(page) == title, icon=":material/tune:"):
        if voice:
            if _warmed_up(voice):
                st.markdown(warm_up_verdict(page))
            else:
                st.markdown(f"> {CALIBRATION_TEXT}")
            with st.container(horizontal=True):
                st.button("Turn it off" if voice["on"] else "Turn it on", key=f"voice-switch-{page}",
                          on_click=switch_calibration, args=(page, not voice["on"]))
                st.button("Forget this voice", key=f"voice-forget-{page}", on_click=forget, args=(page,))
            if _warmed_up(voice) and offer_warm_up and voice.get("takes"):
                warm_up_recorders(page, again=True)
            return
        if not offer_warm_up:
            _plain_reference(page, intro, offer_upload)
            return
        warm_tab, plain_tab = st.tabs(["Warm up: four takes", "Or read a passage"])
        with warm_tab:
            st.markdown(warm_up_intro())
            warm_up_recorders(page)
        with plain_tab:
            _plain_reference(page, intro, offer_upload)
