"""The app's pages run headless with Streamlit's AppTest: what a user would see.

Each page file runs on its own (``AppTest.from_file``); the models load once per
test process (``st.cache_resource``), so only the first analysis pays for them.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ser.experiment
import ser.models
from ser import config
from ser.audio import to_wav_bytes

PAGES = Path(__file__).resolve().parent.parent / "pages"
TIMEOUT_S = 120  # the first run loads and warms up every model on a shared 2-core machine
EXAMPLE = sorted(config.EXAMPLES_DIR.glob("*.flac"))[-1]  # 03-01-05-...-03: angry, 4.4 s (has a timeline)


def run_page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT_S).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def model_names() -> list[str]:
    return [card["name"].split(" + ")[0] for card in ser.models.read_cards()]


def test_upload_page_analyses_an_uploaded_clip():
    at = run_page("upload.py")
    at.file_uploader[0].set_value((EXAMPLE.name, EXAMPLE.read_bytes(), "audio/flac")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Fused verdict", *model_names()}
    assert all(any(e in value for e in config.EMOTIONS) for value in metrics.values())
    assert chart_titles(at) == ["Probability of each emotion",
                                "Emotion over time (4 s windows every 2 s)", "The signal"]
    assert any("models agree" in m.value or "disagree" in m.value for m in at.markdown)
    assert {b.label for b in at.get("download_button")} == {"Download CSV", "Download JSON"}


def test_upload_page_explains_bad_files_and_keeps_good_ones():
    short_clip = to_wav_bytes(np.full(int(0.2 * config.SAMPLE_RATE), 0.1, np.float32))
    at = run_page("upload.py")
    at.file_uploader[0].set_value([
        ("notes.wav", b"these are meeting notes, not audio", "audio/wav"),
        ("empty.wav", b"", "audio/wav"),
        ("short.wav", short_clip, "audio/wav"),
        (EXAMPLE.name, EXAMPLE.read_bytes(), "audio/flac"),
    ]).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 3
    assert "notes.wav" in errors[0] and "not an audio file" in errors[0]
    assert "empty.wav" in errors[1] and "empty" in errors[1]
    assert "short.wav" in errors[2] and "at least 0.5 s" in errors[2]
    assert "Fused verdict" in [m.label for m in at.metric]  # the good clip is still analysed


def test_upload_page_says_when_there_is_no_speech():
    silence = to_wav_bytes(np.zeros(2 * config.SAMPLE_RATE, np.float32))
    at = run_page("upload.py")
    at.file_uploader[0].set_value(("silence.wav", silence, "audio/wav")).run()
    assert not at.exception
    assert any("No speech detected" in w.value for w in at.warning)
    assert not at.metric
    assert chart_titles(at) == ["The signal"]


def test_example_button_analyses_the_example():
    at = run_page("upload.py")
    assert len(at.button) == len(list(config.EXAMPLES_DIR.glob("*.flac")))
    at.button[0].click().run()
    assert not at.exception
    assert "Fused verdict" in [m.label for m in at.metric]
    assert any("RAVDESS label" in c.value for c in at.caption)


def test_compare_page_has_a_row_per_model():
    at = run_page("compare.py")
    table = at.dataframe[0].value
    # Every model, then the fused verdict cross-validated from their out-of-fold predictions.
    assert list(table["model"]) == [card["name"] for card in ser.models.read_cards()] + ["Fused (UAR-weighted)"]
    uncrossed = [card for card in ser.models.read_cards() if not card.get("cv")]
    assert (table["evaluation"] == "not cross-validated").sum() == len(uncrossed)
    assert any("distilled from HuBERT-base" in m.value for m in at.markdown)


def test_compare_page_plots_cross_validated_cards(monkeypatch):
    labels = list(config.EMOTIONS)
    report = {"n": 80, "accuracy": 0.5, "uar": 0.5, "macro_f1": 0.45, "labels": labels,
              "per_class_recall": {e: 0.5 for e in labels},
              "per_actor_accuracy": {"01": 0.4, "02": 0.6},
              "confusion": (np.eye(8, dtype=int) * 5 + 5).tolist(), "folds": "5 folds by actor"}
    cards = [{**card, "cv": report if i == 0 else None} for i, card in enumerate(ser.models.read_cards())]
    monkeypatch.setattr(ser.models, "read_cards", lambda: cards)
    monkeypatch.setattr(ser.experiment, "fused_cv", lambda: None)
    at = run_page("compare.py")
    assert at.dataframe[0].value["accuracy"].iloc[0] == 0.5
    assert len(chart_titles(at)) == 3  # one confusion matrix, per-class recall, per-actor


def test_about_page_cites_ravdess():
    at = run_page("about.py")
    text = "\n".join(m.value for m in at.markdown)
    assert "Livingstone SR, Russo FA (2018)" in text and "e0196391" in text
    assert "CC BY-NC-SA 4.0" in text


def test_dataset_page_without_data_explains_how_to_get_it(monkeypatch):
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    at = run_page("dataset.py")
    assert "python -m ser data download" in at.code[0].value
    assert config.DATA_DIR_ENV in at.code[0].value
    assert not at.dataframe


@pytest.mark.needs_data
def test_dataset_page_with_data_shows_the_clips(monkeypatch, ravdess_dir):
    monkeypatch.setenv(config.DATA_DIR_ENV, str(ravdess_dir))
    at = run_page("dataset.py")
    n_files = sum(1 for p in ravdess_dir.rglob("*") if p.suffix in (".wav", ".flac"))
    assert len(at.dataframe[0].value) == n_files
    at.multiselect[0].set_value(["sad"]).run()
    assert set(at.dataframe[0].value["emotion"]) == {"sad"}
    assert "Clips per emotion" in chart_titles(at)


def test_a_model_that_does_not_load_is_a_message(monkeypatch):
    """Last in the file: it empties the models' cache, and a later test would reload them."""
    import ui.resources

    def broken():
        raise ser.models.ModelError("models/mfcc: the head does not load (size mismatch)")

    monkeypatch.setattr(ui.resources, "load_models", broken)
    ui.resources.get_models.clear()
    try:
        at = run_page("upload.py")
        at.file_uploader[0].set_value((EXAMPLE.name, EXAMPLE.read_bytes(), "audio/flac")).run()
        assert not at.exception
        assert "could not be loaded" in at.error[0].value and "models/mfcc" in at.error[0].value
    finally:
        ui.resources.get_models.clear()
