"""The Live page under Streamlit's AppTest: the one-clip recorder, and the stream switched off.

AppTest has no browser session for streamlit-webrtc to attach to, so these runs
set $SER_LIVE_WEBRTC=0; the stream itself is covered by tests/test_browser.py.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from ser import config, modes
from ser.audio import to_wav_bytes
from ser.cards import read_cards
from ser.inference import voice_reference, warm_up_reference
from ser.models import load_models
from ui.resources import FUSED_NAME, short_name
from ui.setting import SETTING_STATE
from ui.voice import VOICE_STATE, VOICE_WAITS

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "live.py"
TIMEOUT_S = 120  # the first run loads and warms up every model on a shared 2-core machine
EXAMPLE = config.EXAMPLES_DIR / "03-01-05-02-01-01-03.flac"


@pytest.fixture
def live_page(monkeypatch) -> AppTest:
    monkeypatch.setenv(config.LIVE_WEBRTC_ENV, "0")
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def record(at: AppTest, wav: bytes) -> AppTest:
    at.audio_input(key="live-clip").set_value(("recording.wav", wav, "audio/wav")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_says_when_the_stream_is_switched_off(live_page):
    # The voice panel's two ways to tune the models come first, then the page's own two tabs.
    warm_up, passage, continuous, one_clip = (tab.label for tab in live_page.tabs)
    assert warm_up.startswith("Warm up") and passage.startswith("Or read a passage")
    assert continuous.endswith("Continuous") and one_clip.endswith("One clip")
    assert any("switched off" in info.value for info in live_page.info)
    assert not any(config.LIVE_WEBRTC_ENV in info.value for info in live_page.info)  # audience wording
    assert not live_page.error


def test_a_recorded_clip_is_analysed_by_every_model(live_page):
    audio, rate = sf.read(EXAMPLE, dtype="float32")
    at = record(live_page, to_wav_bytes(audio, rate))
    [cards] = [m.value for m in at.markdown if "ser-verdict" in m.value]
    assert all(short_name(card) in cards for card in read_cards()) and FUSED_NAME in cards
    # A probability chart per reading, the emotion map and the signal (4.4 s: no timeline).
    assert len(at.get("plotly_chart")) == len(read_cards()) + 1 + 2


def test_a_silent_recording_is_not_classified(live_page):
    at = record(live_page, to_wav_bytes(np.zeros(2 * config.SAMPLE_RATE, np.float32)))
    assert any("No speech detected" in w.value for w in at.warning)
    assert not any("ser-verdict" in m.value for m in at.markdown)


def test_a_too_short_recording_is_explained(live_page):
    at = record(live_page, to_wav_bytes(np.full(int(0.2 * config.SAMPLE_RATE), 0.1, np.float32)))
    assert any("at least" in e.value for e in at.error), [e.value for e in at.error]
    assert not any("ser-verdict" in m.value for m in at.markdown)


def test_a_calibrated_reading_says_so_and_one_click_turns_it_off(live_page, make_speech, monkeypatch):
    reference = voice_reference([make_speech(12.0, seed=3)], load_models())
    live_page.session_state[VOICE_STATE] = {"live": {"digest": "test", "speech_s": 9.4, "reference": reference,
                                                     "on": True}}
    audio, rate = sf.read(EXAMPLE, dtype="float32")
    at = record(live_page, to_wav_bytes(audio, rate))
    assert any(e.label == "Calibrated to your voice: on (9 s of speech)" for e in at.expander)
    # The first recording of the voice: nothing to judge the reference by yet, so it reads plain.
    [cards] = [m.value for m in at.markdown if "ser-verdict" in m.value]
    assert "calibrated" not in cards
    assert any(VOICE_WAITS in c.value for c in at.caption)
    # A second, different recording, the two read differently against the reference: calibrated.
    monkeypatch.setattr(modes, "variety", lambda probs: 1.0)
    at = record(at, to_wav_bytes(make_speech(3.0, seed=5)))
    [cards] = [m.value for m in at.markdown if "ser-verdict" in m.value]
    # Every reading's card says so, and on how much speech.
    assert cards.count("calibrated to your voice (9 s of speech)") == len(read_cards()) + 1
    at.button(key="live-clip-voice-off").click().run()
    [cards] = [m.value for m in at.markdown if "ser-verdict" in m.value]
    assert "calibrated" not in cards
    assert any(e.label == "Calibrated to your voice: off (9 s of speech)" for e in at.expander)


def test_a_new_voice_reference_starts_its_clips_afresh(live_page, make_speech):
    """The clips kept for a voice's guard belong to that voice: switching the calibration off and
    on keeps them, a reference of another voice starts from none."""
    models = load_models()
    references = {seed: voice_reference([make_speech(12.0, seed=seed)], models) for seed in (3, 4)}

    def calibrate(at, seed, on=True):
        at.session_state[VOICE_STATE] = {"live": {"digest": f"voice-{seed}", "speech_s": 9.4,
                                                  "reference": references[seed], "on": on}}

    def heard(at) -> int:
        return at.session_state[SETTING_STATE]["live"]["setting"].n_clips

    calibrate(live_page, 3)
    at = record(live_page, to_wav_bytes(make_speech(3.0, seed=5)))
    at = record(at, to_wav_bytes(make_speech(3.0, seed=6)))
    assert heard(at) == 2
    calibrate(at, 3, on=False)
    at.run()
    calibrate(at, 3)
    at = record(at, to_wav_bytes(make_speech(3.0, seed=7)))
    assert heard(at) == 3
    calibrate(at, 4)
    at = record(at, to_wav_bytes(make_speech(3.0, seed=8)))
    assert heard(at) == 1  # the first voice's clips say nothing of the second's reference


def test_a_recording_is_named_by_its_date_and_time(live_page):
    audio, rate = sf.read(EXAMPLE, dtype="float32")
    at = record(live_page, to_wav_bytes(audio, rate))
    [name] = [m.value for m in at.markdown if m.value.startswith("#### recording-")]
    assert re.fullmatch(r"#### recording-\d{4}-\d\d-\d\d-\d{6}\.wav", name)


def test_a_warm_up_of_four_takes_tunes_the_readings_and_one_click_forgets_it(live_page):
    """The four recorders of the warm-up tab, filled with the example clips (actors the models
    learnt on, acted strongly: they name their prompts, so the guard lets the warm-up through)."""
    clips = {path.name.split("-")[2]: path for path in config.EXAMPLES_DIR.glob("*.flac")}
    at = live_page
    # Its intro names who learns from the warm-up, and who reads as heard whatever it is.
    [intro] = [m.value for m in at.markdown if "lean from four short takes" in m.value]
    users = [short_name(c) for c in read_cards() if c.warmed_up.holds]
    others = [short_name(c) for c in read_cards() if not c.warmed_up.holds]
    assert intro.startswith(" and ".join(users)) and f"{' and '.join(others)} read each clip as heard whatever" in intro
    for emotion, code in (("neutral", "01"), ("happy", "03"), ("sad", "04"), ("angry", "05")):
        audio, rate = sf.read(clips[code], dtype="float32")
        at.audio_input(key=f"warm-up-live-{emotion}").set_value((f"{emotion}.wav", to_wav_bytes(audio, rate),
                                                                  "audio/wav"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warm_up = at.session_state[VOICE_STATE]["live"]
    assert isinstance(warm_up["reference"], modes.WarmUp)
    label = f"Warmed up to your voice: on ({warm_up['speech_s']:.0f} s of speech)"
    assert any(e.label == label for e in at.expander)
    [verdict] = [m.value for m in at.markdown if m.value.startswith("Read against this warm-up: ")]
    # The models whose warm-ups lost to plain in cross-validation say so, and read as heard.
    left_out = [short_name(c) for c in read_cards() if not c.warmed_up.holds]
    assert left_out and f"- {' and '.join(left_out)} read each clip as heard whatever the warm-up" in verdict
    # and each model that reads against it, how it heard the takes.
    for card in read_cards():
        if card.warmed_up.holds:
            assert re.search(rf"{short_name(card)} heard (all 4|\d of the 4) takes as asked", verdict)
    at = record(at, to_wav_bytes(*sf.read(EXAMPLE, dtype="float32")))
    [cards] = [m.value for m in at.markdown if "ser-verdict" in m.value]
    warmed = len(read_cards()) - len(left_out) + 1  # and the fused verdict
    assert cards.count(f"after your warm-up ({warm_up['speech_s']:.0f} s of speech)") == warmed
    # One take said again, in the recorders beneath the verdict, remakes the warm-up from it and
    # the other three, which the session kept.
    first = at.session_state[VOICE_STATE]["live"]["digest"]
    audio, rate = sf.read(clips["01"], dtype="float32")  # "sadly", said plainly
    at.audio_input(key="warm-up-again-live-sad").set_value(
        ("sad.wav", to_wav_bytes(audio, rate), "audio/wav")).run()
    assert not at.exception, [e.value for e in at.exception]
    again = at.session_state[VOICE_STATE]["live"]
    assert again["digest"] != first and isinstance(again["reference"], modes.WarmUp)
    assert again["takes"]["sad"] == again["takes"]["neutral"] != warm_up["takes"]["sad"]
    assert at.audio_input(key="warm-up-again-live-sad").value is None  # ready for another take
    whisper = again["reference"].models["whisper-base"]
    assert whisper.heard_as()[config.WARM_UP_PROMPTS.index("sad")] != config.EMOTIONS.index("sad")
    assert any("said sadly, it sounded" in m.value for m in at.markdown)
    at.button(key="voice-forget-live").click().run()
    assert "live" not in at.session_state[VOICE_STATE]
    assert at.audio_input(key="warm-up-live-neutral").value is None  # the takes go with it


def test_a_warm_up_keeps_no_clips_of_the_session(live_page, make_speech):
    """Only a plain voice reference's guard needs the voice's clips; a warm-up's was judged on
    its own takes, so while it is on (and adapting is off) the page keeps nothing it hears."""
    warm_up = warm_up_reference({e: make_speech(2.0, seed=20 + k) for k, e in enumerate(config.WARM_UP_PROMPTS)},
                                load_models())
    live_page.session_state[VOICE_STATE] = {"live": {"digest": "warm", "speech_s": warm_up.speech_s,
                                                     "reference": warm_up, "on": True}}
    at = record(live_page, to_wav_bytes(make_speech(3.0, seed=5)))
    assert at.session_state[SETTING_STATE]["live"]["setting"].n_clips == 0
