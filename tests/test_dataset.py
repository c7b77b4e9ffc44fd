"""RAVDESS file-name parsing and folder indexing (no audio is decoded, so files can be empty)."""

from pathlib import Path

import pytest

from ser import config
from ser.cli import main
from ser.dataset import COLUMNS, index_dataset, parse_filename, speech_only

GOOD = "03-01-06-01-02-01-12.wav"  # the example in the RAVDESS documentation
NEUTRAL_PER_ACTOR = 4  # 2 statements x 2 repetitions, normal intensity only
OTHER_PER_ACTOR = 8  # per other emotion: 2 intensities x 2 statements x 2 repetitions
CLIPS_PER_ACTOR = NEUTRAL_PER_ACTOR + 7 * OTHER_PER_ACTOR  # 60


def _touch(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


# --- parse_filename -------------------------------------------------------------------
def test_parse_documented_example():
    assert parse_filename(GOOD) == {
        "modality": "audio-only",
        "vocal_channel": "speech",
        "emotion": "fearful",
        "emotion_code": 6,
        "intensity": "normal",
        "statement": "Dogs are sitting by the door",
        "repetition": 1,
        "actor": 12,
        "gender": "female",
    }


@pytest.mark.parametrize("code, emotion", [(f"{i:02d}", e) for i, e in enumerate(config.EMOTIONS, start=1)])
def test_parse_every_emotion_in_config_order(code, emotion):
    labels = parse_filename(f"03-01-{code}-01-01-02-01.flac")
    assert (labels["emotion"], labels["emotion_code"]) == (emotion, int(code))


def test_parse_other_codes():
    labels = parse_filename("01-02-03-02-01-02-23.wav")
    assert labels["modality"] == "full-AV"
    assert labels["vocal_channel"] == "song"
    assert labels["intensity"] == "strong"
    assert labels["statement"] == "Kids are talking by the door"
    assert labels["repetition"] == 2
    assert (labels["actor"], labels["gender"]) == (23, "male")
    assert parse_filename("02-01-01-01-01-01-24.mp4")["modality"] == "video-only"


def test_parse_accepts_paths_with_matching_actor_folder():
    assert parse_filename(Path("/data/Actor_12") / GOOD)["actor"] == 12
    assert parse_filename(Path("/data/anything") / GOOD)["actor"] == 12


@pytest.mark.parametrize(
    "name, reason",
    [
        ("03-01-06-01-02-12.wav", "expected 7 dash-separated fields"),
        ("03-01-06-01-02-01-12-01.wav", "expected 7 dash-separated fields"),
        ("notes.wav", "expected 7 dash-separated fields"),
        ("03-01-6-01-02-01-12.wav", "emotion field '6' is not two digits"),
        ("03-01-xx-01-02-01-12.wav", "emotion field 'xx' is not two digits"),
        ("04-01-06-01-02-01-12.wav", "unknown modality code '04'"),
        ("03-03-06-01-02-01-12.wav", "unknown vocal channel code '03'"),
        ("03-01-09-01-02-01-12.wav", "unknown emotion code '09'"),
        ("03-01-00-01-02-01-12.wav", "unknown emotion code '00'"),
        ("03-01-06-03-02-01-12.wav", "unknown intensity code '03'"),
        ("03-01-06-01-03-01-12.wav", "unknown statement code '03'"),
        ("03-01-06-01-02-03-12.wav", "unknown repetition code '03'"),
        ("03-01-06-01-02-01-00.wav", "actor '00' is outside 01..24"),
        ("03-01-06-01-02-01-25.wav", "actor '25' is outside 01..24"),
        ("03-01-01-02-02-01-12.wav", "neutral has no strong intensity"),
        ("03-02-07-01-02-01-12.wav", "song has no disgust"),
        ("Actor_11/" + GOOD, "actor 12 is filed under folder Actor_11"),
    ],
)
def test_parse_rejects_names_that_break_the_scheme(name, reason):
    with pytest.raises(ValueError) as err:
        parse_filename(name)
    message = str(err.value)
    assert message.startswith(Path(name).name + ": ")  # names the file
    assert reason in message


# --- index_dataset ------------------------------------------------------------------------
@pytest.fixture
def small_tree(tmp_path):
    """Four valid clips in both layouts, three bad names, one duplicate, one non-audio file."""
    valid = [
        "Actor_01/03-01-01-01-01-01-01.wav",
        "Actor_01/03-01-05-02-02-02-01.wav",
        "Actor_02/03-01-08-02-01-01-02.flac",
        "Actor_02/03-02-03-01-01-01-02.flac",  # song: indexed, then filtered by speech_only
    ]
    bad = [
        "Actor_01/03-01-01-02-01-01-01.wav",  # neutral, strong
        "Actor_02/03-01-03-01-01-01-01.flac",  # actor 01 filed under Actor_02
        "Actor_02/take 3.WAV",  # upper-case extension is still audio
    ]
    for name in valid + bad:
        _touch(tmp_path, name)
    _touch(tmp_path, "Actor_02/03-01-01-01-01-01-01.flac.txt")  # not audio: ignored
    _touch(tmp_path, "extra/03-01-01-01-01-01-01.flac")  # same clip as a valid WAV
    return tmp_path


def test_index_rows_columns_and_order(small_tree):
    clips = index_dataset(small_tree).clips
    assert tuple(clips.columns) == COLUMNS
    assert list(clips["path"]) == sorted(clips["path"])
    assert all(Path(p).is_absolute() and Path(p).exists() for p in clips["path"])
    assert len(clips) == 5  # 4 valid + the duplicate copy, which is kept and reported
    assert clips["emotion_code"].dtype.kind == "i"
    row = clips[clips["path"].str.endswith("03-01-08-02-01-01-02.flac")].iloc[0]
    assert (row["emotion"], row["intensity"], row["actor"], row["gender"]) == ("surprised", "strong", 2, "female")


def test_index_reports_every_bad_file(small_tree):
    problems = index_dataset(small_tree).problems
    assert len(problems) == 4
    assert any(p.startswith("Actor_01/03-01-01-02-01-01-01.wav: neutral has no strong") for p in problems)
    assert any(p.startswith("Actor_02/03-01-03-01-01-01-01.flac: actor 01 is filed under") for p in problems)
    assert any(p.startswith("Actor_02/take 3.WAV: expected 7") for p in problems)
    assert any(p.startswith("03-01-01-01-01-01-01: the same clip appears 2 times") for p in problems)


def test_index_is_deterministic(small_tree):
    first, second = index_dataset(small_tree), index_dataset(small_tree)
    assert first.clips.equals(second.clips)
    assert first.problems == second.problems


def test_speech_only_keeps_audio_only_speech(small_tree):
    speech = speech_only(index_dataset(small_tree).clips)
    assert len(speech) == 4
    assert set(speech["vocal_channel"]) == {"speech"}
    assert list(speech.index) == list(range(4))


def test_index_empty_and_missing_folders(tmp_path):
    empty = index_dataset(tmp_path)
    assert empty.clips.empty and tuple(empty.clips.columns) == COLUMNS
    assert empty.problems == []
    with pytest.raises(NotADirectoryError, match="not a folder"):
        index_dataset(tmp_path / "missing")


# --- the index command ----------------------------------------------------------------------
def test_cli_index_prints_counts_problems_and_writes_csv(small_tree, tmp_path, capsys):
    out_csv = tmp_path / "index.csv"
    assert main(["data", "index", str(small_tree), "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    # The corpus index keeps audio-only speech: the song is listed among the problems.
    assert "4 clips, 2 speakers, 1 corpora, 4 problems" in out
    assert "RAVDESS (English): 4 clips, 2 speakers (1 male, 1 female)" in out
    assert "Actor_02/take 3.WAV: expected 7" in out and "not an audio-only speech clip" in out
    assert len(out_csv.read_text().splitlines()) == 1 + 4


def test_cli_index_missing_folder_is_one_line_error(tmp_path, capsys):
    assert main(["data", "index", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# --- the real data ------------------------------------------------------------------------
@pytest.mark.needs_data
def test_full_data_index(ravdess_dir):
    """ravdess-16k holds actors 01-20 (1200 clips); the full release holds 01-24 (1440)."""
    index = index_dataset(ravdess_dir)
    clips = index.clips
    assert index.problems == []
    actors = sorted(clips["actor"].unique())
    assert actors in (list(range(1, 21)), list(range(1, 25)))
    n_actors = len(actors)
    assert len(clips) == CLIPS_PER_ACTOR * n_actors  # 1200 for ravdess-16k
    assert (clips["actor"].value_counts() == CLIPS_PER_ACTOR).all()
    expected = {e: (NEUTRAL_PER_ACTOR if e == "neutral" else OTHER_PER_ACTOR) * n_actors for e in config.EMOTIONS}
    assert clips["emotion"].value_counts().to_dict() == expected  # 80 neutral, 160 each other for 20 actors
    assert len(speech_only(clips)) == len(clips)
    # Every actor recorded every (emotion, intensity, statement, repetition) cell exactly once.
    cells = ["actor", "emotion", "intensity", "statement", "repetition"]
    assert not clips.duplicated(cells).any()
    assert clips.drop_duplicates("actor")["gender"].value_counts().to_dict() == {
        "male": n_actors // 2, "female": n_actors // 2}
