"""The app's pages run headless with Streamlit's AppTest: what a user would see.

Each page file runs on its own (``AppTest.from_file``); the models load once per
test process (``st.cache_resource``), so only the first analysis pays for them.
"""

import json
import re
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ser.cards
import ser.models
import ser.modes
from ser import config
from ser.cards import read_cards
from ser.audio import load_audio, spoken_duration, to_wav_bytes
from ser.corpora import CORPORA, index_corpora
from ser.reports import MODE_TITLES, headlines, read_fusion
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
    # One probability chart per reading, in the cards' order; no timeline for a 4.4 s clip,
    # whose two windows share 3.6 s.
    in_card_order = sorted(model_names() + [FUSED_NAME], key=cards.index)
    lead = short_name(read_cards()[-1])
    assert chart_titles(at) == in_card_order + [f"Where {lead} places it", "The signal"]  # the emotion map
    assert any("reading" in m.value and "speech" in m.value for m in at.markdown)
    assert {b.label for b in at.get("download_button")} == {"Download CSV", "Download JSON"}
    assert not at.file_uploader[0].value  # read and emptied: the files do not stay in the server's memory
    # The newest result is scrolled into view, once.
    assert any("scrollBy" in h.proto.body for h in at.get("html"))
    assert not any("scrollBy" in h.proto.body for h in at.run().get("html"))


def test_a_clip_of_several_emotions_reads_as_its_segments_first():
    clips = [load_audio(path.read_bytes()) for path in sorted(config.EXAMPLES_DIR.glob("*.flac"))]
    at = run_page("upload.py")
    at.file_uploader[0].set_value(("four.wav", to_wav_bytes(np.concatenate(clips)), "audio/wav")).run()
    assert not at.exception, [e.value for e in at.exception]
    lead = short_name(read_cards()[-1])
    titles = chart_titles(at)
    assert titles[0] == f"Over time, as {lead} hears it"  # the lead reading's timeline leads
    texts = [m.value for m in at.markdown]
    spoken = next(i for i, t in enumerate(texts) if t.startswith("**As spoken**"))
    assert spoken < next(i for i, t in enumerate(texts) if "ser-verdict" in t)
    # Several segments, each named ("0–3 s sad (not sure), 3–7 s fearful (not sure), …").
    assert re.search(rf"heard by {lead}: 0–\d+ s \w+( \(not sure\))?, \d+–", texts[spoken])


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


def test_upload_page_reads_a_batch_adapted_to_its_setting_and_one_click_reads_each_alone():
    clips = sorted(config.EXAMPLES_DIR.glob("*.flac"))[:3]  # three actors, three emotions
    at = run_page("upload.py")
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "audio/flac") for p in clips]).run()
    alone = verdicts(at)
    assert len(alone) == 3 and not any("adapted to this setting" in cards for cards in alone)
    at.toggle(key="adapt-upload").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    adapted = verdicts(at)
    # Every card says what it rests on; a reading that changed says what it was before.
    assert all("adapted to this setting (3 clips," in cards for cards in adapted)  # Whisper base at least
    assert adapted != alone
    off = [b for b in at.button if b.label == "Read each clip alone"]
    assert len(off) == 3
    off[0].click().run()
    assert verdicts(at) == alone and not at.toggle(key="adapt-upload").value


def test_upload_page_reads_the_files_against_the_speakers_voice_but_not_the_examples(make_speech, monkeypatch):
    at = run_page("upload.py")
    at.file_uploader(key="voice-file-upload").set_value(
        [("reference.wav", to_wav_bytes(make_speech(12.0, seed=3)), "audio/wav")]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.label.startswith("Calibrated to the speaker's voice: on (") for e in at.expander)
    mine = [("mine.flac", EXAMPLE.read_bytes(), "audio/flac")]
    at.file_uploader[0].set_value(mine).run()
    (alone,) = verdicts(at)
    assert "calibrated" not in alone  # one file of the voice: nothing to judge the reference by
    # Two files that read differently against the reference: the voice's guard lets them read so.
    monkeypatch.setattr(ser.modes, "variety", lambda probs: 1.0)
    other = ("other.wav", to_wav_bytes(make_speech(3.0, seed=5)), "audio/wav")
    at.file_uploader[0].set_value(mine + [other]).run()
    next(b for b in at.button if b.key.startswith("example-")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    example, *uploads = verdicts(at)  # newest first
    assert all("calibrated to the speaker" in cards for cards in uploads)  # the quote is escaped
    assert "calibrated" not in example and "adapted" not in example  # an actor's clip is another voice
    # One click reads the files plainly again; the reference stays, switched off.
    at.button(key=next(b.key for b in at.button if b.key.endswith("-voice-off"))).click().run()
    assert not any("calibrated" in cards for cards in verdicts(at))
    assert any(e.label.startswith("Calibrated to the speaker's voice: off (") for e in at.expander)


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


def lead_sentences() -> list[str]:
    """Each reading mode's headline, worded from ``reports.headlines`` (nothing typed in)."""
    rows = [row for row in headlines(read_cards(), read_fusion()) if row["lead"]]
    assert [row["mode"] for row in rows] == ["plain", "adapted", "voice", "warmed_up"]
    sentences = [f"right about **{row['right'] * 10:.1f} times in 10** (guessing: {row['chance'] * 10:.1f} in 10)"
                 for row in rows]
    # The adapted figure reads a batch at once; the Live page's, heard clip by clip, beside it.
    sentences[1] += f". That is a batch read at once; heard clip by clip, " \
                    f"as the Live page hears a session, {rows[1]['one_by_one'] * 10:.1f} in 10."
    return sentences


def test_compare_page_leads_with_the_never_heard_headline_then_the_transfer_table():
    at = run_page("compare.py")
    texts = [m.value for m in at.markdown]
    # The first words under the title: each mode's headline on corpora the models never heard.
    for sentence, title, text in zip(lead_sentences(), MODE_TITLES.values(), texts[:4], strict=True):
        assert text.startswith(f"**{title}.**") and "never heard" in text and sentence in text
    modes = ["As heard", "Adapted to the setting", "Calibrated to the voice", "After a warm-up"]
    assert chart_titles(at)[:4] == modes  # every model, every corpus
    # Beneath them, the models whose warm-up readings are measured but not used, and why.
    bars = next(c.value for c in at.caption if c.value.startswith("Bars: "))
    not_used = [short_name(c) for c in read_cards() if not c.warmed_up.holds]
    assert not_used and f"{' and '.join(not_used)} read each clip as heard after any warm-up" in bars
    # Static tables (every row and column shows), indexed by the model's name.
    transfer, arousal, speaker_folds = at.table[0].value, at.table[1].value, at.table[2].value
    # Every model, then the fused reading, once per left-out corpus.
    assert list(dict.fromkeys(transfer.index)) == model_names() + [FUSED_NAME]
    assert set(transfer["Tested on"]) == {c.name.split(" (")[0] for c in CORPORA.values()}
    right = transfer["Right (each emotion alike)"]
    assert all(v.endswith("\u00a0%") and 0 <= float(v[:-2]) <= 100 for v in right)  # "28 %" never breaks
    assert "UAR" not in transfer and "Unsure" not in transfer  # plain words in the headers
    assert list(speaker_folds.index) == model_names()
    assert "RAVDESS (8 emotions)" in speaker_folds
    # Calm or excited, measured on the left-out corpora: computed, in percent.
    assert list(arousal.index) == model_names() and all(v.endswith("\u00a0%") for v in arousal["On average"])
    assert any(e.label == "What the numbers mean" for e in at.expander)
    glossary = "\n".join(texts)
    assert "unweighted average recall" in glossary and "calibration error" in glossary
    assert all(f"1 in {n} on {name}" in glossary for n, name in ((5, "ASED"), (7, "EMOVO"), (8, "RAVDESS")))
    assert "distilled from HuBERT-base" in glossary
    for jargon in ("attentive CNN head", "layer(s)", "installs offline", config.DATA_DIR_ENV):
        assert jargon not in glossary
    # The four modes, then a confusion matrix each, recall, per-actor on RAVDESS.
    assert len(chart_titles(at)) == 4 + len(model_names()) + 2
    assert any(s.value.startswith("New actors of a corpus the models know") for s in at.subheader)


def test_compare_page_without_cross_validation_says_so(monkeypatch):
    cards = [replace(card, speaker_folds=None, transfer=None) if i else card
             for i, card in enumerate(read_cards())]
    monkeypatch.setattr(ser.cards, "read_cards", lambda: cards)
    at = run_page("compare.py")
    assert len(at.table[0].value) == 2 * len(CORPORA)  # the first model's and the fused reading's rows
    assert any("not cross-validated" in info.value for info in at.info)
    assert len(chart_titles(at)) == 4 + 3  # the four modes, one confusion matrix, per-class recall, per-actor


def test_about_page_states_the_compare_pages_headline_and_cites_every_corpus():
    at = run_page("about.py")
    text = "\n".join(m.value for m in at.markdown)
    assert all(sentence in text for sentence in lead_sentences())
    assert "about half" not in text
    assert "Livingstone SR, Russo FA (2018)" in text and "e0196391" in text
    assert "CC BY-NC-SA 4.0" in text and "10.1145/3529759" in text and "EMOVO Corpus" in text


def test_dataset_page_without_data_browses_the_examples_and_says_where_the_corpora_are(monkeypatch):
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(config.CORPORA_DIR_ENV, raising=False)
    at = run_page("dataset.py")
    n_examples = len(list(config.EXAMPLES_DIR.glob("*.flac")))
    assert len(at.dataframe[0].value) == n_examples
    assert any(f"only the {n_examples} example clips" in i.value for i in at.info)
    corpora = at.table[0].value
    assert list(corpora.index) == [c.name for c in CORPORA.values()]  # where each comes from
    assert set(corpora["clips here"]) == {"not on this server"}
    assert all(c.citation in set(corpora["source"]) for c in CORPORA.values())
    assert not at.text_input  # no visitor-typed folder ever reaches the file system
    # How to add the data is for whoever runs the server: in an expander at the end.
    assert at.expander[-1].label.startswith("For the person running the server")
    assert "python -m ser data download" in at.code[0].value
    assert config.DATA_DIR_ENV in at.code[0].value


@pytest.mark.needs_data
def test_dataset_page_with_data_shows_the_clips_and_marks_an_analysis(monkeypatch, ravdess_dir, corpora_dir):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(ravdess_dir))
    monkeypatch.setenv(config.CORPORA_DIR_ENV, str(corpora_dir))
    at = run_page("dataset.py")
    assert not at.text_input
    corpora = at.table[0].value  # every indexed corpus, with its clips and speakers
    indexed = index_corpora(corpora_dir).clips
    for corpus_id, group in indexed.groupby("corpus"):
        assert int(corpora.loc[CORPORA[corpus_id].name, "clips here"]) == len(group)
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

