"""The Live page under Streamlit's AppTest: the one-clip recorder, and the stream switched off.

AppTest has no browser session for streamlit-webrtc to attach to, so these runs
set $SER_LIVE_WEBRTC=0; the stream itself is covered by tests/test_browser.py.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from ser import config
from ser.audio import to_wav_bytes
from ser.cards import read_cards
from ui.resources import FUSED_NAME, short_name

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
    continuous, one_clip = (tab.label for tab in live_page.tabs)
    assert continuous.endswith("Continuous") and one_clip.endswith("One clip")
    assert any("switched off" in info.value for info in live_page.info)
    assert not any(config.LIVE_WEBRTC_ENV in info.value for info in live_page.info)  # audience wording
    assert not live_page.error


def test_a_recorded_clip_is_analysed_by_every_model(live_page):
    audio, rate = sf.read(EXAMPLE, dtype="float32")
    at = record(live_page, to_wav_bytes(audio, rate))
    [cards] = [m.value for m in at.markdown if "ser-verdict" in m.value]
    assert all(short_name(card) in cards for card in read_cards()) and FUSED_NAME in cards
    # A probability chart per reading, the timeline (4.4 s > one window) and the signal.
    assert len(at.get("plotly_chart")) == len(read_cards()) + 1 + 2


def test_a_silent_recording_is_not_classified(live_page):
    at = record(live_page, to_wav_bytes(np.zeros(2 * config.SAMPLE_RATE, np.float32)))
    assert any("No speech detected" in w.value for w in at.warning)
    assert not any("ser-verdict" in m.value for m in at.markdown)


def test_a_too_short_recording_is_explained(live_page):
    at = record(live_page, to_wav_bytes(np.full(int(0.2 * config.SAMPLE_RATE), 0.1, np.float32)))
    assert any("at least" in e.value for e in at.error), [e.value for e in at.error]
    assert not any("ser-verdict" in m.value for m in at.markdown)
