"""Corpora indexed into one table: the name parsers and the folder detection."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser import config
from ser.corpora import COLUMNS, CORPORA, index_corpora, parse_ased, parse_emovo, parse_ravdess


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(160, np.float32), config.SAMPLE_RATE)


@pytest.fixture
def corpora_root(tmp_path):
    for name in ("ravdess-16k/Actor_01/03-01-02-01-01-02-01.flac",
                 "ravdess-16k/Actor_02/03-01-01-01-02-01-02.flac",
                 "ased-16k/ased_07/a5-03-01-02-07.flac", "ased-16k/ased_07/n1-01-02-02-07.flac",
                 "ased-16k/ased_07/not-a-clip.flac",
                 "emovo-16k/emovo_f1/dis-f1-b1.flac", "emovo-16k/emovo_m3/neu-m3-l4.flac"):
        _touch(tmp_path / name)
    _touch(tmp_path / "nemo-16k/nemo_EB0/EB0_anger_1.ogg")
    _touch(tmp_path / "nemo-16k/nemo_EB0/EB0_joy_2.ogg")
    (tmp_path / "nemo-16k/labels.csv").write_text(
        "path,speaker,emotion,gender,language,orig_label,sentence,common_sentence,duration_s,source_path\n"
        "nemo_EB0/EB0_anger_1.ogg,nemo_EB0,angry,F,pl,anger,lubię czytać,True,0.01,x.wav\n"
        "nemo_EB0/EB0_joy_2.ogg,nemo_EB0,calm,F,pl,joy,lubię czytać,True,0.01,x.wav\n"
        "nemo_EB0/EB0_gone_3.ogg,nemo_EB0,sad,F,pl,sadness,lubię czytać,True,0.01,x.wav\n")
    return tmp_path


def test_each_parser_reads_the_documented_example():
    assert parse_ravdess(Path("Actor_12/03-01-06-01-02-01-12.wav")) == {
        "speaker": "ravdess_12", "gender": "F", "emotion": "fearful", "orig_label": "06",
        "sentence": "Dogs are sitting by the door", "common_sentence": True}
    assert parse_ased(Path("a5-03-01-02-50.wav")) == {
        "speaker": "ased_50", "gender": "M", "emotion": "angry", "orig_label": "a",
        "sentence": "angry-03", "common_sentence": False}
    assert parse_ased(Path("S4-01-02-01-09.flac"))["emotion"] == "sad"  # one release name is upper-case
    assert parse_ased(Path("h3-02-01-01-09.flac"))["common_sentence"]
    assert parse_emovo(Path("gio-m2-n3.flac")) == {
        "speaker": "emovo_m2", "gender": "M", "emotion": "happy", "orig_label": "gio",
        "sentence": "n3", "common_sentence": True}


@pytest.mark.parametrize("parse, name", [
    (parse_ravdess, "03-02-01-01-01-01-01.wav"),  # video-only, not audio
    (parse_ased, "x5-03-01-02-50.wav"),
    (parse_ased, "a5-03-01-03-50.wav"),  # gender 03
    (parse_emovo, "xyz-f1-b1.wav"),
    (parse_emovo, "neu-f4-b1.wav"),
])
def test_names_that_break_a_scheme_are_refused(parse, name):
    with pytest.raises(ValueError):
        parse(Path(name))


def test_every_corpus_emotion_is_in_the_label_space_in_its_order():
    for corpus in CORPORA.values():
        assert list(corpus.emotions) == [e for e in config.EMOTIONS if e in corpus.emotions]


def test_a_folder_of_corpora_is_indexed_into_one_table(corpora_root):
    index = index_corpora(corpora_root)
    clips = index.clips
    assert list(clips.columns) == list(COLUMNS)
    assert clips["corpus"].tolist() == ["ased", "ased", "emovo", "emovo", "nemo", "ravdess", "ravdess"]
    assert clips["speaker"].tolist() == ["ased_07", "ased_07", "emovo_f1", "emovo_m3", "nemo_EB0",
                                         "ravdess_01", "ravdess_02"]
    assert clips["language"].tolist() == ["am", "am", "it", "it", "pl", "en", "en"]
    assert clips["emotion"].tolist() == ["angry", "neutral", "disgust", "neutral", "angry", "calm", "neutral"]
    assert clips["common_sentence"].map(type).eq(bool).all()
    assert index.problems == [
        "ased/ased_07/not-a-clip.flac: expected E#-SS-RR-G-NN, e.g. a5-03-01-02-50",
        "nemo/nemo_EB0/EB0_joy_2.ogg: emotion 'calm' is not one of neutral, happy, sad, angry, fearful, surprised",
        "nemo/nemo_EB0/EB0_gone_3.ogg: listed in labels.csv but missing"]


def test_one_corpus_folder_is_indexed_alone(corpora_root):
    assert set(index_corpora(corpora_root / "emovo-16k").clips["corpus"]) == {"emovo"}


def test_a_folder_with_no_known_corpus_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no known corpus"):
        index_corpora(tmp_path)
    with pytest.raises(NotADirectoryError):
        index_corpora(tmp_path / "missing")


@pytest.mark.needs_data
def test_the_six_corpora_as_documented(corpora_dir):
    index = index_corpora(corpora_dir)
    clips = index.clips
    assert index.problems == []
    counts = clips.groupby("corpus").agg(n=("path", "size"), speakers=("speaker", "nunique"))
    # Counts from ../shared/data/README.md; the Korean set's voices nea/neb are ema/emb.
    assert counts.to_dict("index") == {
        "ased": {"n": 2470, "speakers": 65}, "emotiontts-ko": {"n": 300, "speakers": 13},
        "emovo": {"n": 588, "speakers": 6}, "nemo": {"n": 4481, "speakers": 9},
        "ravdess": {"n": 1200, "speakers": 20}, "tess": {"n": 2800, "speakers": 2}}
    for corpus_id, rows in clips.groupby("corpus"):
        assert set(rows["emotion"]) == set(CORPORA[corpus_id].emotions)
    ased = clips[clips["corpus"] == "ased"]
    assert ased["emotion"].value_counts().to_dict() == {"neutral": 521, "fearful": 510, "happy": 485,
                                                        "angry": 485, "sad": 469}
    korean = clips[clips["corpus"] == "emotiontts-ko"]
    assert not korean["common_sentence"].all() and korean["common_sentence"].any()  # one subset has a text confound
    # Labels from names agree with the corpus's own labels.csv.
    import pandas as pd

    root = corpora_dir.resolve()  # the index holds resolved paths
    for corpus_id, folder in (("ased", "ased-16k"), ("emovo", "emovo-16k")):
        labels = pd.read_csv(root / folder / "labels.csv")
        ours = clips[clips["corpus"] == corpus_id].assign(
            rel=lambda d: d["path"].map(lambda p: str(Path(p).relative_to(root / folder))))
        merged = ours.merge(labels, left_on="rel", right_on="path")
        assert len(merged) == len(ours)
        assert (merged["emotion_x"] == merged["emotion_y"]).all()
        assert (merged["speaker_x"] == merged["speaker_y"]).all()
