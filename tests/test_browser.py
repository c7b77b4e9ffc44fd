"""End to end in a real browser: headless Chromium, with a fake microphone playing
a RAVDESS clip, drives a running app through every page, at a projector's, a
laptop's and a phone's width, and checks that no text is cut off and that new results
appear on screen.

Uses the system's Chromium (Debian package ``chromium``), never a downloaded
browser. Screenshots go to ``test-artifacts/`` (every page at 1024, 1440 and 390 px in
``test-artifacts/screenshots/``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest
import soundfile as sf
import soxr

from ser import config
from ser.cards import read_cards
from ui.resources import FUSED_NAME, short_name

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and os.environ.get("CI") != "true":
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium); CI always runs these tests",
                allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402 -- after the skip
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

pytestmark = pytest.mark.browser

ARTIFACTS = config.PROJECT_DIR / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CLIP = config.EXAMPLES_DIR / "03-01-05-02-01-01-03.flac"  # angry, 4.4 s: long enough for a timeline
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_S = 90  # cold start on two busy cores, models excluded (they load on first page)
RESULT_S = 120  # models loading on first use, then an analysis, on shared CPUs
LIVE_S = 60  # from START to the first live predictions

TAKE_8S = re.compile(r"(?<![\d.])([89]|[1-9]\d+)\.\d s recorded")  # the live view's counter at 8 s or more
EMOTION = re.compile("|".join(config.EMOTIONS))
WEBRTC_IFRAME = "iframe[title*='streamlit_webrtc']"
PLOTLY = "[data-testid='stPlotlyChart']"
APP_ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
RESULT = ".st-key-ser-result"  # every page's analyses sit in this container
PROJECTOR = {"width": 1024, "height": 768}
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SCROLLED_S = 1.0  # a new result is brought into view once it is drawn; charts settle under it
PAGES = {"live": ("Live", "Live emotion recognition"), "upload": ("Upload", "Upload audio"),
         "compare": ("Compare models", "Compare the models"), "dataset": ("Dataset", "Dataset"),
         "about": ("About", "About this studio")}
# Text cut off in the main area: an ellipsis, or a no-wrap line clipped by hidden overflow,
# whose content is wider than its box. Returns the texts so a failure names them.
CUT_OFF_TEXT_JS = """() => {
  const cut = [];
  for (const el of document.querySelectorAll('[data-testid="stMain"] *')) {
    const style = getComputedStyle(el);
    if (style.fontFamily.includes('Material')) continue;  // an icon's ligature name, not text
    const clips = style.textOverflow === 'ellipsis'
      || (['hidden', 'clip'].includes(style.overflowX) && style.whiteSpace === 'nowrap');
    const text = el.innerText ? el.innerText.trim() : '';
    if (clips && text && el.scrollWidth > el.clientWidth + 1)
      cut.push(`${text.slice(0, 60)} (${el.scrollWidth} px in ${el.clientWidth} px)`);
  }
  return cut;
}"""


def short_names() -> list[str]:
    """The names the app shows for the shipped models."""
    return [short_name(card) for card in read_cards()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """A ``streamlit run`` of the app on a free local port; its log goes to test-artifacts/."""
    with serve("streamlit.log") as url:
        yield url


@contextmanager
def serve(log_name: str, **settings: str):
    """A fresh ``streamlit run`` of the app with extra environment ``settings``: yields its URL."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in (config.LIVE_WEBRTC_ENV, config.ICE_SERVERS_ENV)}
    env.update(settings)
    url = f"http://127.0.0.1:{port}"
    with open(ARTIFACTS / log_name, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=config.PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(server, url)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_until_healthy(server: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while server.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_S} s")
        time.sleep(0.5)
    pytest.fail(f"streamlit exited with code {server.returncode}: see {ARTIFACTS / 'streamlit.log'}")


@pytest.fixture(scope="session")
def microphone_wav(tmp_path_factory) -> Path:
    """The example clip as the 48 kHz 16-bit WAV Chromium's fake microphone plays (in a loop)."""
    if not CLIP.is_file():
        pytest.fail(f"{CLIP} is missing: the browser tests speak this example clip into the microphone")
    audio, rate = sf.read(CLIP, dtype="float32")
    path = tmp_path_factory.mktemp("microphone") / "speech-48k.wav"
    sf.write(path, soxr.resample(audio, rate, 48_000).clip(-1, 1), 48_000, subtype="PCM_16")
    return path


def chromium_args(microphone_wav: Path) -> list[str]:
    return CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
    ]


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the session: its sync API allows only one at a time."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright, microphone_wav):
    """Headless system Chromium for tests that need several visitors: a fresh context each."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=chromium_args(microphone_wav))
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory, playwright, microphone_wav):
    """Headless system Chromium, fresh profile, microphone allowed and fed from ``microphone_wav``."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is absent: CI must install the Debian chromium package")
    context = playwright.chromium.launch_persistent_context(
        tmp_path_factory.mktemp("chromium-profile"), executable_path=str(CHROMIUM), headless=True,
        args=chromium_args(microphone_wav), viewport={"width": 1440, "height": 1000},
    )
    try:
        yield context
    finally:
        context.close()


def screenshot(page: Page, name: str) -> None:
    """The whole page as ``test-artifacts/<name>.png`` (``name`` may hold a folder).

    Streamlit scrolls inside its main pane, not the document, so a full-page
    screenshot would stop at the window: the window is stretched to the pane's
    height for the shot instead.
    """
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 8_000)})
    page.wait_for_timeout(500)  # charts redraw at the new size
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path)
    page.set_viewport_size(size)


@pytest.fixture
def page(browser_context, request):
    """A new tab; its final state is saved as ``test-artifacts/<test>-final.png``, pass or fail."""
    tab = browser_context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    try:
        screenshot(tab, f"{request.node.name}-final")
    finally:
        tab.close()


def open_app(page: Page, url: str) -> None:
    """Load a page; each test then waits for its first widget, which appears once the models
    are loaded (the first visit in a server process loads them)."""
    page.goto(url)
    expect(page.locator("[data-testid='stApp']"), f"the Streamlit app did not load at {url}").to_be_visible()


def wait_for(page: Page, target, what: str, timeout_s: float) -> None:
    """Wait for ``target`` to show; fail at once, quoting the app, if it shows an error instead."""
    errors = page.locator(APP_ERRORS)
    expect(target.or_(errors).first, f"{what} did not appear within {timeout_s:g} s").to_be_visible(
        timeout=timeout_s * 1000)
    if errors.count():
        pytest.fail(f"{what}: the app shows an error instead: {errors.first.inner_text()}")


def expect_result_panel(panel, what: str, n_plots: int) -> None:
    """A render_analysis panel: the lead card, a card for every model and for all models
    together, each naming an emotion, and at least ``n_plots`` charts."""
    wait_for(panel.page, panel.locator(".ser-lead"), f"{what}: the lead verdict", RESULT_S)
    names = short_names() + [FUSED_NAME]
    cards = panel.locator(".ser-verdict")
    expect(cards, f"{what}: expected a card for each of {names}").to_have_count(len(names))
    expect(panel.locator(".ser-lead"), f"{what}: one lead card").to_have_count(1)
    for i, name in enumerate(names):
        expect(cards.nth(i), f"{what}: a verdict names no emotion").to_contain_text(EMOTION)
        expect(panel.locator(".ser-verdict", has_text=name), f"{what}: no card for {name}").to_have_count(1)
    charts = panel.locator(PLOTLY)
    # The charts come after the cards, later when several visitors share the cores.
    expect(charts.nth(n_plots - 1), f"{what}: fewer than {n_plots} plotly charts").to_be_visible(
        timeout=RESULT_S * 1000)


def cut_off_text(page: Page) -> list[str]:
    return page.evaluate(CUT_OFF_TEXT_JS)


def outside_view(page: Page, target, what: str) -> list[str]:
    """Each element of ``target`` that does not lie wholly inside the window, as a sentence."""
    page.wait_for_timeout(SCROLLED_S * 1000)
    height = page.viewport_size["height"]
    outside = []
    for i, element in enumerate(target.all()):
        box = element.bounding_box()
        if box is None or box["y"] < 0 or box["y"] + box["height"] > height:
            outside.append(f"{what} #{i + 1} at {box} in a window {height} px high")
    return outside or ([] if target.count() else [f"no {what} at all"])


def open_page(page: Page, name: str) -> None:
    """Open one of the app's pages through the sidebar and wait for its title."""
    title, heading = PAGES[name]
    link = page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title)
    opener = page.locator("[data-testid='stExpandSidebarButton']")  # a phone keeps the sidebar closed
    expect(link.or_(opener).first, "the page list or the button that opens it").to_be_visible()
    phone = opener.is_visible()
    if phone:
        opener.click()
        page.wait_for_timeout(500)  # it slides in
    link.click()
    if phone:  # there it stays open, over the page
        page.locator("[data-testid='stSidebarCollapseButton'] button").click()
    wait_for(page, page.get_by_role("heading", name=heading).first, f"the {title} page", RESULT_S)


def test_a_direct_link_opens_the_page_inside_the_app(browser):
    """A fresh server whose first visitor follows a link to /upload gets the app's own
    navigation and title, not Streamlit's folder-listing sidebar (which a ``pages/`` folder
    beside the entry script would give until someone opens /)."""
    with serve("streamlit-direct-link.log") as url:
        context = browser.new_context(viewport=PROJECTOR)
        try:
            tab = context.new_page()
            tab.goto(f"{url}/upload")
            title, heading = PAGES["upload"]
            wait_for(tab, tab.get_by_role("heading", name=heading).first, "the Upload page", RESULT_S)
            sidebar = tab.locator("[data-testid='stSidebar']")
            expect(sidebar, "the app's name in the sidebar").to_contain_text("Speech Emotion Studio")
            links = sidebar.locator("[data-testid='stSidebarNav']").get_by_role("link")
            expect(links, "the app's five pages, by their titles").to_contain_text(
                [t for t, _ in PAGES.values()])
            screenshot(tab, "direct-link-upload")
        finally:
            context.close()


def test_upload_page_analyses_a_clip_and_explains_a_picture(page, app_url, tmp_path):
    open_app(page, app_url)
    open_page(page, "upload")
    uploader = page.locator("[data-testid='stFileUploader']").first
    wait_for(page, uploader, "the Upload page's file uploader", RESULT_S)
    uploader.locator("input[type=file]").set_input_files(CLIP)
    # A probability chart per reading and the signal (4.4 s: too short for a timeline).
    expect_result_panel(page.locator(RESULT), "Upload", len(short_names()) + 2)
    screenshot(page, "upload")

    picture = tmp_path / "holiday.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    page.locator("[data-testid='stFileUploader'] input[type=file]").first.set_input_files(picture)
    error = page.locator(RESULT).locator("[data-testid='stAlertContentError']")
    expect(error, "a picture's upload must say why, in words on the page").to_contain_text(
        "holiday.png cannot be analysed", timeout=RESULT_S * 1000)
    expect(error).to_be_visible()


@pytest.mark.parametrize("viewport", [PROJECTOR, LAPTOP, PHONE], ids=["1024x768", "1440x900", "390x844"])
def test_no_page_cuts_text_off_and_results_appear_in_view(page, app_url, viewport):
    """Every page, and the Upload and Dataset pages with a clip analysed: no text cut off. On a
    projector and a laptop a new result's verdicts are on screen without scrolling, and the
    Compare page's first screen tells how the models do on a voice they never heard."""
    page.set_viewport_size(viewport)
    open_app(page, app_url)
    cut, unseen = {}, []
    wide = viewport != PHONE
    for name in PAGES:
        open_page(page, name)
        if name == "upload":
            page.locator("[data-testid='stFileUploader'] input[type=file]").first.set_input_files(CLIP)
            expect_result_panel(page.locator(RESULT), "Upload", len(short_names()) + 2)
            if wide:
                unseen += outside_view(page, page.locator(f"{RESULT} .ser-verdict"), "upload verdict card")
        elif name == "dataset":
            page.get_by_role("button", name="Run the models").click()
            expect_result_panel(page.locator(RESULT), "Dataset", len(short_names()) + 2)
        elif name == "live":  # the warm-up's four recorders, the panel's first tab
            page.locator("summary", has_text="Calibrate to my voice").click()
            for emotion in ("neutral", "angry"):  # the first and the last recorder
                expect(page.locator(f".st-key-warm-up-live-{emotion}"), "a warm-up recorder").to_be_visible(
                    timeout=RESULT_S * 1000)
        elif name == "compare":
            headline = page.locator(".st-key-headline")
            expect(headline, "the never-heard headline with its chance level").to_contain_text("guessing")
            if wide:
                unseen += outside_view(page, headline, "Compare headline")
            expect(page.locator(PLOTLY).last, "the Compare page's charts").to_be_visible()
        page.wait_for_timeout(1_500)  # charts and cards settle at this width
        cut[name] = cut_off_text(page)
        screenshot(page, f"screenshots/{name}-{viewport['width']}")
    cut = {name: texts for name, texts in cut.items() if texts}
    assert not cut, f"text cut off at {viewport['width']} px: {cut}"
    assert not unseen, f"out of sight at {viewport['width']}x{viewport['height']}: {unseen}"


def test_live_stream_predicts_while_playing_and_analyses_the_take(page, app_url):
    page.set_viewport_size(PROJECTOR)  # where the reading used to wrap and the page jump
    open_app(page, app_url)
    wait_for(page, page.locator(WEBRTC_IFRAME), "the streamlit-webrtc component", RESULT_S)
    page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START").click()

    view = page.locator(".st-key-live-view")
    wait_for(page, view.get_by_text("Listening"), "the live view after START", LIVE_S)
    for name in short_names():
        expect(view, f"no live prediction from {name} while the microphone plays").to_contain_text(
            name, timeout=LIVE_S * 1000)
    # The reading updates twice a second in a box of fixed height: the page never jumps.
    heights = set()
    for _ in range(6):
        heights.add(round(page.locator(".st-key-live-verdict").bounding_box()["height"]))
        page.wait_for_timeout(500)
    assert len(heights) == 1, f"the live reading's box changed height: {sorted(heights)} px"
    assert not cut_off_text(page), f"text cut off in the live view: {cut_off_text(page)}"
    # The reading and the level meter on one projector screen while streaming.
    unseen = outside_view(page, page.locator(".st-key-live-verdict"), "live reading")
    unseen += outside_view(page, view.locator("[data-testid='stProgress']"), "level meter")
    assert not unseen, f"out of sight while streaming at 1024x768: {unseen}"
    screenshot(page, "live-playing")
    # Two loops of the clip: a take longer than one analysis window gets a timeline too.
    expect(view, "the take did not reach 8 s").to_contain_text(TAKE_8S, timeout=LIVE_S * 1000)

    page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="STOP").click()
    take = page.locator(RESULT)
    expect(take, "no take after STOP").to_contain_text("Your take", timeout=30_000)
    expect(take.get_by_role("button", name="Download the take (WAV)")).to_be_visible()
    expect_result_panel(take, "Live take", len(short_names()) + 3)  # probabilities, timeline, signal
    expect(take, "a long take reads as its segments first").to_contain_text("As spoken")
    assert not cut_off_text(page), f"text cut off in the take: {cut_off_text(page)}"
    unseen = outside_view(page, take.locator(".ser-verdict"), "take verdict card")
    assert not unseen, f"out of sight after STOP at 1024x768: {unseen}"
    screenshot(page, "live-take")

    # A second, short take on a laptop: the waveform streams in view, the verdicts after STOP.
    page.set_viewport_size(LAPTOP)
    page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START").click()
    expect(view.locator("[data-testid='stVegaLiteChart']"), "the live waveform").to_be_visible(
        timeout=LIVE_S * 1000)
    expect(view, "no second live reading").to_contain_text(short_names()[0], timeout=LIVE_S * 1000)
    unseen = outside_view(page, view.locator("[data-testid='stVegaLiteChart']"), "live waveform")
    page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="STOP").click()
    expect_result_panel(take, "Second take", len(short_names()) + 2)
    unseen += outside_view(page, take.locator(".ser-verdict"), "take verdict card")
    assert not unseen, f"out of sight at 1440x900: {unseen}"
    screenshot(page, "live-take-1440")


RECORD_TRIES = 3


def start_recording(page: Page, recorder: str, what: str):
    """Press the record button of the ``st.audio_input`` under the CSS selector ``recorder``
    and return its stop button. On CI a press right after the panel opened was once lost
    (the button stayed "Record", 00:00); a person presses again, and so does this, a few times."""
    stop = page.get_by_role("button", name="Stop recording")
    for attempt in range(RECORD_TRIES):
        page.locator(f"{recorder} [data-testid='stAudioInputActionButton']").click()
        try:
            expect(stop).to_be_visible(timeout=10_000)
            return stop
        except AssertionError:
            screenshot(page, f"record-try-{attempt + 1}")
    pytest.fail(f"{what} did not start after {RECORD_TRIES} presses")


def test_one_clip_recorded_from_the_microphone_is_analysed(page, app_url):
    open_app(page, app_url)
    tab = page.get_by_role("tab", name="One clip")
    wait_for(page, tab, "the 'One clip' tab of the Live page", RESULT_S)
    tab.click()
    stop = start_recording(page, ".st-key-live-clip", "the clip recorder")
    page.wait_for_timeout(4_000)  # past the clip's leading silence and into its speech
    stop.click()
    result = page.locator(RESULT)
    # Probabilities and signal (a timeline only from 8 s).
    expect_result_panel(result, "One clip", len(short_names()) + 2)
    unseen = outside_view(page, result.locator(".ser-verdict"), "recording verdict card")
    assert not unseen, f"out of sight after a recording at 1440x1000: {unseen}"
    screenshot(page, "one-clip")

    # Calibrating to the voice: the panel gives a sentence to read in the everyday voice. The fake
    # microphone can only play the angry clip again; the reference is taken, but the one clip of
    # this voice gives its guard nothing to judge it by, so the reading stays plain and says why.
    # (AppTest checks the calibrated cards: tests/test_live_page.py.)
    page.locator("summary", has_text="Calibrate to my voice").click()
    page.get_by_role("tab", name="Or read a passage").click()
    expect(page.get_by_text("in your everyday voice")).to_be_visible()
    stop = start_recording(page, ".st-key-voice-recording-live", "the calibration recorder")
    page.wait_for_timeout(8_000)  # two loops of the clip: more than the 3 s of speech it needs
    stop.click()
    expect(page.get_by_text("Read plainly, though the voice calibration is on"),
           "the voice guard's line").to_be_visible(timeout=RESULT_S * 1000)
    expect(result.locator(".ser-calibrated"), "no card claims a calibration").to_have_count(0)
    screenshot(page, "one-clip-voice-waits")


def test_a_warm_up_recorded_from_the_microphone_keeps_its_recorders(page, app_url):
    """The warm-up's four takes recorded in the browser. The fake microphone plays one clip, so
    the four takes sound alike: the guard refuses the warm-up, the panel says so and keeps the
    recorders beneath, where a take can be said again."""
    page.set_viewport_size(PROJECTOR)
    open_app(page, app_url)
    page.locator("summary", has_text="Calibrate to my voice").click()
    for emotion in ("neutral", "happy", "sad", "angry"):
        stop = start_recording(page, f".st-key-warm-up-live-{emotion}", f"the {emotion} take's recorder")
        page.wait_for_timeout(4_000)  # past the clip's leading silence and into its speech
        stop.click()
    # The panel's title changes with the warm-up made; it stays open on the verdict.
    verdict = page.get_by_text("did not hear the four emotions asked for")
    expect(verdict, "the guard's verdict").to_be_visible(timeout=RESULT_S * 1000)
    expect(page.locator("summary", has_text="Warmed up to your voice: not used")).to_be_visible()
    expect(page.get_by_text("Say any take of"), "the recorders, kept for another take").to_be_visible()
    expect(page.locator(".st-key-warm-up-again-live-sad"), "a recorder to say the sad take again").to_be_visible()
    screenshot(page, "warm-up-refused")
    # A rerun from elsewhere on the page leaves it as the visitor left it: open.
    page.get_by_text("Adapt to this session").click()
    page.wait_for_timeout(2_000)
    expect(verdict, "the verdict after another rerun").to_be_visible()
    page.get_by_role("button", name="Turn it off").click()
    expect(page.locator("summary", has_text="Warmed up to your voice: off")).to_be_visible()
    expect(page.get_by_role("button", name="Turn it on"), "the panel, open after turning it off").to_be_visible()


# --- the live stream: START, several visitors, the length cap -------------------------------
# Logs every change of the live view's "x.x s recorded" counter as [Date.now(), seconds].
COUNTER_LOG_JS = """() => {
  window.__counter = [];
  new MutationObserver(() => {
    const view = document.querySelector('.st-key-live-view');
    const m = view && view.innerText.match(/([\\d.]+) s recorded/);
    const log = window.__counter;
    if (m && (!log.length || log[log.length - 1][1] !== parseFloat(m[1])))
      log.push([Date.now(), parseFloat(m[1])]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
# Refreshes of every live view after the three streams run, within STARVED_S: CI saw 0.17-0.5 Hz
# with three browsers rendering on its two cores, so this asks for progress, not for a rate.
KEEPS_REFRESHING = 3
STARVED_S = 30
REFRESHED_JS = "([since, n]) => window.__counter.filter(([t]) => t >= since).length >= n"
CAP_S = 8  # SER_MAX_DURATION_S of the fresh server: long enough for speech, short for a test
START_TRIES = 5
STREAMED_S = 2.0  # recorded by a take that started, seen within START_S of START
START_S = 20
STREAMED_JS = "s => window.__counter.length > 0 && window.__counter[window.__counter.length - 1][1] >= s"


def open_live(context, url: str) -> Page:
    """The Live page in a new tab of ``context``, logging its take counter; waits for START."""
    tab = context.new_page()
    tab.set_default_timeout(RESULT_S * 1000)
    tab.goto(url)
    tab.evaluate(COUNTER_LOG_JS)
    tab.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START").wait_for()
    return tab


def counter(tab: Page) -> list:
    return tab.evaluate("() => window.__counter")


def streaming(tab: Page) -> bool:
    return tab.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="STOP").count() == 1


def test_start_streams_every_time_on_a_fresh_server_and_a_take_stops_at_its_cap(browser):
    """A fresh server: START on fresh pages, the first as the models come in (the page waits
    for them: half a second); every one streams. The last take runs to the (small) cap:
    closed there and analysed, with a message."""
    with serve("streamlit-fresh.log", SER_MAX_DURATION_S=str(CAP_S)) as url:
        failures = []
        for attempt in range(START_TRIES):
            context = browser.new_context(viewport=PROJECTOR)
            try:
                tab = open_live(context, url)
                tab.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START").click()
                try:  # a stream that never starts never counts; a busy machine only counts late
                    tab.wait_for_function(STREAMED_JS, arg=STREAMED_S, timeout=START_S * 1000)
                except PlaywrightTimeout:
                    pass
                log = counter(tab)
                if not (streaming(tab) and log and log[-1][1] >= STREAMED_S):
                    failures.append(f"try {attempt + 1}: streaming "
                                    f"{streaming(tab)}, counter {log[-1:] or 'never shown'}")
                    screenshot(tab, f"start-try-{attempt + 1}")
                elif attempt == START_TRIES - 1:
                    take = tab.locator(RESULT)
                    expect(take, "a take at its cap must say so").to_contain_text(
                        f"The take reached {CAP_S} s", timeout=(CAP_S + 30) * 1000)
                    expect(tab.locator(".st-key-live-view"), "the live view says the take closed").to_contain_text(
                        "Take closed")
                    expect_result_panel(take, "Capped take", len(short_names()) + 2)
                    assert streaming(tab), "closing the take at its cap leaves STOP to the visitor"
                    screenshot(tab, "live-capped-take")
            finally:
                context.close()
        assert not failures, f"START did not stream every time: {failures}"


def test_three_visitors_streaming_at_once_each_keep_streaming_and_refreshing(browser, app_url):
    """No visitor's stream starves another's. How often each view refreshes is a speed figure
    (>= 2 Hz targeted): benchmarks/live.py --visitors 3 measures it, since here the three
    browsers' rendering shares the two cores with the server and moves it most."""
    contexts = [browser.new_context(viewport=PROJECTOR) for _ in range(3)]
    try:
        tabs = [open_live(context, app_url) for context in contexts]
        for tab in tabs:
            tab.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START").click()
        for tab in tabs:
            expect(tab.locator(".st-key-live-view"), "a visitor's stream did not start").to_contain_text(
                "recorded", timeout=LIVE_S * 1000)
        tabs[0].wait_for_timeout(2_000)  # past the start, when the three streams all run
        since = tabs[0].evaluate("() => Date.now()")
        starved = []
        for i, tab in enumerate(tabs):
            try:  # a starved stream never refreshes again; a slow machine only refreshes late
                tab.wait_for_function(REFRESHED_JS, arg=[since, KEEPS_REFRESHING], timeout=STARVED_S * 1000)
            except PlaywrightTimeout:
                starved.append(i + 1)
        for i, tab in enumerate(tabs):
            screenshot(tab, f"three-visitors-{i + 1}")
        assert all(streaming(tab) for tab in tabs), \
            f"a stream stopped by itself: streaming {[streaming(tab) for tab in tabs]}, " \
            f"counters {[counter(tab)[-1:] for tab in tabs]}"
        assert not starved, f"visitors {starved} saw fewer than {KEEPS_REFRESHING} refreshes in {STARVED_S} s: " \
                            f"their counters {[counter(tabs[i - 1])[-3:] for i in starved]}"
    finally:
        for context in contexts:
            context.close()


CLICK_S = 30  # a click's page on screen, six visitors arriving together on a fresh server


def test_six_visitors_at_once_each_navigate_upload_and_stream_and_every_click_counts(browser):
    """A fresh server, six visitors arriving together (the models come in meanwhile): each one's
    click on a sidebar page opens it, their uploads are analysed (two at a time, the others
    told their place), and their streams start.

    A first click on the Live page, the one a visitor lands on, can still be lost under load
    (1 visitor in 6, in 2 runs of 4 here): most likely Streamlit merges the click's rerun with a
    rerun the page's own components ask for just after, keeping the later request's page (README,
    "Limits a visitor meets"). Such a click is clicked again, once, and reported as a warning;
    a second loss fails the test."""
    with serve("streamlit-six.log") as url:
        contexts = [browser.new_context(viewport=PROJECTOR) for _ in range(6)]
        tabs = [context.new_page() for context in contexts]
        try:
            for tab in tabs:  # each clicks as soon as the sidebar shows, the first ones while the models load
                tab.set_default_timeout(RESULT_S * 1000)
                tab.goto(url)
                tab.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Upload").click()
            lost = [i for i, tab in enumerate(tabs) if not wait_shown(tab, PAGES["upload"][1])]
            if lost:
                warnings.warn(f"the first click on Upload did nothing for visitors {[i + 1 for i in lost]}")
            for i in lost:
                tabs[i].locator("[data-testid='stSidebarNav']").get_by_role("link", name="Upload").click()
            lost_twice = [i + 1 for i in lost if not wait_shown(tabs[i], PAGES["upload"][1])]
            assert not lost_twice, f"two clicks on Upload did nothing for visitors {lost_twice}"
            for tab in tabs:
                uploader = tab.locator("[data-testid='stFileUploader'] input[type=file]").first
                uploader.wait_for(state="attached")
                uploader.set_input_files(CLIP)
            for i, tab in enumerate(tabs):
                tab.bring_to_front()  # Chromium draws the charts of the tab in front only
                expect_result_panel(tab.locator(RESULT), f"visitor {i + 1}'s upload", len(short_names()) + 3)
            for tab in tabs:
                tab.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Live").click()
            lost = [i + 1 for i, tab in enumerate(tabs) if not wait_shown(tab, PAGES["live"][1])]
            assert not lost, f"the click on Live did nothing for visitors {lost}"
            for tab in tabs:
                tab.evaluate(COUNTER_LOG_JS)
                start = tab.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START")
                start.wait_for()
                start.click()
            for i, tab in enumerate(tabs):
                expect(tab.locator(".st-key-live-view"), f"visitor {i + 1}'s stream did not start").to_contain_text(
                    "recorded", timeout=LIVE_S * 1000)
        finally:
            for i, tab in enumerate(tabs):
                screenshot(tab, f"six-visitors-{i + 1}")
            for context in contexts:
                context.close()


def wait_shown(tab: Page, heading: str) -> bool:
    """Whether the page titled ``heading`` came on screen within ``CLICK_S`` of a click."""
    try:
        tab.get_by_role("heading", name=heading).first.wait_for(timeout=CLICK_S * 1000)
    except PlaywrightTimeout:
        return False
    return True
