"""The app's pages run headless with Streamlit's AppTest: what a user would see.

Each page file runs on its own (``AppTest.from_file``); the models load once per
test process (``st.cache_resource``), so only the first analysis pays for them.
"""

import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ser.cards
import ser.models
from ser import config
from ser.cards import read_cards
from ser.audio import load_audio, spoken_duration, to_wav_bytes
from ui.analysis import KEPT_RESULTS
from ui.resources import FUSED_NAME, short_name

PAGES = Path(__file__).resolve().parent.parent / "app_pages"
TIMEOUT_S = 120  # the first run loads and warms up every model on a shared 2-core machine
EXAMPLE = sorted(config.EXAMPLES_DIR.glob("*.flac"))[-1]  # 03-01-05-...-03: angry, 4.4 s (has a timeline)


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT_S).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def model_names() -> list[str]:
    return [short_name(card) for card in read_cards()]


def verdicts(at: AppTest) -> list[str]:
    """The verdict cards' HTML, one block per analysed clip."""
    return [m.value for m in at.markdown if "ser-verdict" in m.value]


def test_upload_page_analyses_an_uploaded_clip():
    at = run_page("upload.py")
    at.file_uploader[0].set_value((EXAMPLE.name, EXAMPLE.read_bytes(), "audio/flac")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    [cards] = verdicts(at)
    # The lead card first, named after its model; every other reading, the fused one included.
    assert cards.index("ser-lead") < min(cards.index(name) for name in model_names() + [FUSED_NAME])
    assert all(name in cards for name in model_names() + [FUSED_NAME])
    assert cards.count("class='ser-verdict") == len(model_names()) + 1
    titles = chart_titles(at)
    assert sorted(titles[:-2]) == sorted(model_names() + [FUSED_NAME])  # one probability chart per reading
    assert titles[-2:] == ["Emotion over time (4 s windows every 2 s)", "The signal"]
    assert any("reading" in m.value and "speech" in m.value for m in at.markdown)
    assert {b.label for b in at.get("download_button")} == {"Download CSV", "Download JSON"}
    assert not at.file_uploader[0].value  # read and emptied: the files do not stay in the server's memory


def test_upload_page_explains_bad_files_and_keeps_good_ones():
    short_clip = to_wav_bytes(np.full(int(0.2 * config.SAMPLE_RATE), 0.1, np.float32))
    at = run_page("upload.py")
    at.file_uploader[0].set_value([
        ("photo.png", b"\x89PNG\r\n\x1a\n not a sound", "image/png"),
        ("empty.wav", b"", "audio/wav"),
        ("short.wav", short_clip, "audio/wav"),
        (EXAMPLE.name, EXAMPLE.read_bytes(), "audio/flac"),
    ]).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 3
    assert "photo.png cannot be analysed" in errors[0] and "no audio" in errors[0]  # words, not a red mark
    assert "empty.wav" in errors[1] and "empty" in errors[1]
    assert "short.wav" in errors[2] and "at least 0.5 s" in errors[2]
    assert len(verdicts(at)) == 1  # the good clip is still analysed


def test_upload_page_keeps_a_bounded_number_of_clips():
    at = run_page("upload.py")
    files = [(f"clip-{i}.flac", EXAMPLE.read_bytes(), "audio/flac") for i in range(KEPT_RESULTS + 2)]
    at.file_uploader[0].set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [clip.name for clip in at.session_state["upload_results"]] == [
        name for name, _, _ in files[:KEPT_RESULTS]]
    assert any("first 4 are analysed" in i.value for i in at.info)


def test_the_upload_limits_agree_and_admit_every_clip_within_the_length_limit():
    import tomllib

    server = tomllib.loads((config.PROJECT_DIR / ".streamlit" / "config.toml").read_text())["server"]
    assert server["maxUploadSize"] == config.MAX_UPLOAD_MB  # MiB on the server: never under the browser's MB
    at = run_page("upload.py")
    assert at.file_uploader[0].proto.max_upload_size_mb == config.MAX_UPLOAD_MB
    label = at.file_uploader[0].label
    assert f"to {spoken_duration(config.MAX_DURATION_S)} each, up to {config.MAX_UPLOAD_MB} MB" in label
    # The case: 2 minutes of 96 kHz 24-bit stereo WAV (69 MB), then 32-bit float.
    for bytes_per_sample in (3, 4):
        wav_bytes = 44 + config.MAX_DURATION_S * 96_000 * bytes_per_sample * 2
        assert wav_bytes < config.MAX_UPLOAD_MB * 10**6


def test_file_names_are_shown_as_typed_not_as_markdown():
    at = run_page("upload.py")
    at.file_uploader[0].set_value(("**loud** [x](y).wav", b"not audio", "audio/wav")).run()
    assert at.error[0].value.startswith("\\*\\*loud\\*\\* \\[x\\](y).wav cannot be analysed")


def test_upload_page_says_when_there_is_no_speech():
    silence = to_wav_bytes(np.zeros(2 * config.SAMPLE_RATE, np.float32))
    at = run_page("upload.py")
    at.file_uploader[0].set_value(("silence.wav", silence, "audio/wav")).run()
    assert not at.exception
    assert any("No speech detected" in w.value for w in at.warning)
    assert not verdicts(at)
    assert chart_titles(at) == ["The signal"]


def test_example_button_analyses_the_example_and_says_the_models_know_the_speaker():
    at = run_page("upload.py")
    assert len(at.button) == len(list(config.EXAMPLES_DIR.glob("*.flac")))
    assert any("heard these four actors in training" in c.value for c in at.caption)
    at.button[0].click().run()
    assert not at.exception
    assert len(verdicts(at)) == 1
    assert any("RAVDESS label" in c.value and "heard this actor in training" in c.value for c in at.caption)
    # Marked right or wrong against the label its file name gives.
    marks = [m.value for m in list(at.success) + list(at.warning)]
    assert len(marks) == 1 and "acted neutral" in marks[0]


def test_compare_page_leads_with_the_transfer_table_and_explains_the_numbers():
    at = run_page("compare.py")
    # Static tables (every row and column shows), indexed by the model's name.
    transfer, speaker_folds = at.table[0].value, at.table[1].value
    # Every model, then the fused reading, once per left-out corpus.
    assert list(dict.fromkeys(transfer.index)) == model_names() + [FUSED_NAME]
    assert set(transfer["Tested on"]) == {"RAVDESS", "ASED", "EMOVO"}
    assert all(0 <= float(v.rstrip(" %")) <= 100 for v in transfer["UAR"])  # in percent
    assert list(speaker_folds.index) == model_names()
    assert "RAVDESS (8 emotions)" in speaker_folds
    assert any(e.label == "What the numbers mean" for e in at.expander)
    glossary = "\n".join(m.value for m in at.markdown)
    assert "unweighted average recall" in glossary and "Calibration error" in glossary
    assert "distilled from HuBERT-base" in glossary
    for jargon in ("attentive CNN head", "layer(s)", "installs offline", config.DATA_DIR_ENV):
        assert jargon not in glossary
    assert len(chart_titles(at)) == len(model_names()) + 2  # a confusion matrix each, recall, per-actor


def test_compare_page_without_cross_validation_says_so(monkeypatch):
    cards = [replace(card, speaker_folds=None, transfer=None) if i else card
             for i, card in enumerate(read_cards())]
    monkeypatch.setattr(ser.cards, "read_cards", lambda: cards)
    at = run_page("compare.py")
    assert len(at.table[0].value) == 3 + 3  # the first model's and the fused reading's rows
    assert any("not cross-validated" in info.value for info in at.info)
    assert len(chart_titles(at)) == 3  # one confusion matrix, per-class recall, per-actor


def test_about_page_cites_every_corpus():
    at = run_page("about.py")
    text = "\n".join(m.value for m in at.markdown)
    assert "Livingstone SR, Russo FA (2018)" in text and "e0196391" in text
    assert "CC BY-NC-SA 4.0" in text and "10.1145/3529759" in text and "EMOVO Corpus" in text


def test_dataset_page_without_data_browses_the_examples(monkeypatch):
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    at = run_page("dataset.py")
    assert len(at.dataframe[0].value) == len(list(config.EXAMPLES_DIR.glob("*.flac")))
    assert not at.text_input  # no visitor-typed folder ever reaches the file system
    # How to add the data is for whoever runs the server: in an expander at the end.
    assert at.expander[-1].label.startswith("For the person running the server")
    assert "python -m ser data download" in at.code[0].value
    assert config.DATA_DIR_ENV in at.code[0].value


@pytest.mark.needs_data
def test_dataset_page_with_data_shows_the_clips_and_marks_an_analysis(monkeypatch, ravdess_dir):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(ravdess_dir))
    at = run_page("dataset.py")
    assert not at.text_input
    n_files = sum(1 for p in ravdess_dir.rglob("*") if p.suffix in (".wav", ".flac"))
    assert len(at.dataframe[0].value) == n_files
    at.multiselect[0].set_value(["sad"]).run()
    assert set(at.dataframe[0].value["emotion"]) == {"sad"}
    assert "Clips per emotion" in chart_titles(at)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(verdicts(at)) == 1
    marks = [m.value for m in list(at.success) + list(at.warning)]
    assert len(marks) == 1 and "acted sad" in marks[0]


def test_a_visitor_waiting_for_the_analyser_sees_their_place_then_the_result(monkeypatch):
    import ui.analysis

    shown, held, release = [], threading.Barrier(config.ANALYSIS_SLOTS + 1), threading.Event()

    def others() -> None:  # visitors whose analyses hold every slot
        with ui.analysis._SLOTS.hold():
            held.wait()
            release.wait()

    def show_place(placeholder, place: int) -> None:
        shown.append(place)
        original(placeholder, place)
        if len(shown) == 3:  # seen waiting a while: the others finish
            release.set()

    original = ui.analysis._show_place
    monkeypatch.setattr(ui.analysis, "_show_place", show_place)
    busy = [threading.Thread(target=others) for _ in range(config.ANALYSIS_SLOTS)]
    for thread in busy:
        thread.start()
    held.wait()
    at = run_page("upload.py")
    unseen = to_wav_bytes(load_audio(EXAMPLE)[1234:])  # audio no other test analyses: nothing kept
    at.file_uploader[0].set_value(("waiting.wav", unseen, "audio/wav")).run()
    for thread in busy:
        thread.join(timeout=5)
    assert not at.exception, [e.value for e in at.exception]
    assert shown[:3] == [1, 1, 1]  # next in line, told so while it waited
    assert len(verdicts(at)) == 1 and not at.info  # then analysed, and the notice gone


def sent(at: AppTest) -> bytes:
    """Every element the page sent to the browser, as the bytes of its messages."""
    def walk(node):
        proto = getattr(node, "proto", None)
        yield proto.SerializeToString() if proto is not None else b""
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return b"".join(walk(at._tree))


def server_folders() -> list[str]:
    """Where the server keeps its files: none of these may reach a visitor."""
    return [str(config.PROJECT_DIR), str(Path.home()), str(config.EXAMPLES_DIR.resolve())]


@pytest.mark.parametrize("page", ["upload.py", "dataset.py", "compare.py", "about.py", "live.py"])
def test_no_page_sends_where_the_server_keeps_its_files(page, monkeypatch):
    monkeypatch.setenv(config.LIVE_WEBRTC_ENV, "0")  # AppTest has no browser for the stream
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)  # the examples: inside the project folder
    at = run_page(page)
    if page in ("upload.py", "dataset.py"):
        at.button[0].click().run()  # an example clip, or the first clip of the table, analysed
        assert len(verdicts(at)) == 1
    messages = sent(at)
    assert b"Traceback" not in messages
    for folder in server_folders():
        assert folder.encode() not in messages, folder


def test_a_model_that_does_not_load_is_a_message(monkeypatch):
    """Last in the file: it empties the models' cache, and a later test would reload them."""
    import ui.resources

    def broken():
        raise ser.models.ModelError(f"{config.MODELS_DIR}/mfcc: the head does not load (size mismatch)")

    monkeypatch.setattr(ui.resources, "load_models", broken)
    ui.resources.model_loader.clear()
    try:
        at = run_page("upload.py")
        at.file_uploader[0].set_value((EXAMPLE.name, EXAMPLE.read_bytes(), "audio/flac")).run()
        assert not at.exception
        assert "could not be loaded" in at.error[0].value and "models/mfcc" in at.error[0].value
        assert str(config.PROJECT_DIR) not in at.error[0].value  # the server's folders stay its own
    finally:
        ui.resources.model_loader.clear()

