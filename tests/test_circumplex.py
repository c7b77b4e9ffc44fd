"""Russell's circumplex: each emotion's place, a reading's place, and the calm-or-excited figure
measured from the models' leave-one-corpus-out predictions."""

import numpy as np
import pandas as pd
import pytest

from ser import config
from ser.circumplex import arousal_agreement, coordinates, position
from ser.reports import CV_PREDICTIONS_FILE


def test_every_emotion_but_neutral_sits_on_the_circle_and_a_sure_reading_at_its_emotion():
    points = coordinates()
    assert list(points) == list(config.EMOTIONS) and points["neutral"] == (0.0, 0.0)
    for emotion, (valence, arousal) in points.items():
        if emotion != "neutral":
            assert np.hypot(valence, arousal) == pytest.approx(1.0)
    assert points["angry"][1] > 0 > points["sad"][1] and points["happy"][0] > 0 > points["sad"][0]
    sure = {e: float(e == "calm") for e in config.EMOTIONS}
    assert position(sure) == pytest.approx(points["calm"])
    half = {e: 0.5 * (e in ("happy", "sad")) for e in config.EMOTIONS}
    assert position(half) == pytest.approx((0.0, 0.0))  # opposite emotions cancel out


def test_arousal_agreement_averages_the_excited_and_the_calm_clips_per_left_out_corpus(tmp_path):
    def clip(corpus: str, acted: str, read: str) -> dict:
        return {"corpus": corpus, "emotion": acted,
                **{f"corpus_out:{e}": float(e == read) for e in config.EMOTIONS}}

    clips = [clip("a", "angry", "happy"), clip("a", "angry", "sad"),  # excited: 1 of 2 read excited
             clip("a", "sad", "calm"),  # calm: 1 of 1 read calm
             clip("a", "neutral", "angry"),  # level on the circle: left out
             clip("b", "happy", "surprised"), clip("b", "calm", "fearful")]
    (tmp_path / "m").mkdir()
    pd.DataFrame(clips).to_csv(tmp_path / "m" / CV_PREDICTIONS_FILE, index=False)
    [(model, result)] = arousal_agreement(tmp_path, ["m", "absent"]).items()
    assert model == "m" and result["chance"] == 0.5
    assert result["corpora"] == {"a": pytest.approx(0.75), "b": pytest.approx(0.5)}
    assert result["right"] == pytest.approx(0.625)
