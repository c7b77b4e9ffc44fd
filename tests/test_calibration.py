"""Scoring transfer, calibration error, temperature scaling and stacked fusion."""

import numpy as np
import pytest

from ser import calibration, config, evaluation

NEUTRAL, CALM, HAPPY, SAD = (config.EMOTIONS.index(e) for e in ("neutral", "calm", "happy", "sad"))
FIVE = ("neutral", "happy", "sad", "angry", "fearful")  # a corpus without calm, disgust, surprised


def one_hot(indices, n=len(config.EMOTIONS), p=0.9):
    probs = np.full((len(indices), n), (1 - p) / (n - 1))
    probs[np.arange(len(indices)), indices] = p
    return probs


def test_predicted_calm_counts_as_neutral_where_a_corpus_has_no_calm():
    y = np.array([NEUTRAL, NEUTRAL, HAPPY, SAD])
    probs = one_hot([CALM, NEUTRAL, HAPPY, HAPPY])
    report = evaluation.transfer_score(y, probs, FIVE)
    assert report["neutral_recall"] == 1.0
    assert report["per_class_recall"] == {"neutral": 1.0, "happy": 1.0, "sad": 0.0}
    assert report["uar"] == pytest.approx(2 / 3)
    # With calm in its label space (RAVDESS) the same answer is wrong.
    assert evaluation.transfer_score(y, probs, config.EMOTIONS)["neutral_recall"] == 0.5


def test_a_class_the_corpus_lacks_is_wrong_and_no_prediction_is_wrong():
    y = np.array([HAPPY, HAPPY])
    probs = one_hot([config.EMOTIONS.index("disgust"), HAPPY])
    probs[1] = np.nan
    report = evaluation.transfer_score(y, probs, FIVE)
    assert report["accuracy"] == 0.0


def test_calibration_error_of_perfect_and_overconfident_readings():
    assert evaluation.expected_calibration_error([0.75] * 4, [1, 1, 1, 0]) == pytest.approx(0.0)
    assert evaluation.expected_calibration_error([0.95] * 4, [1, 0, 0, 0]) == pytest.approx(0.7)


def test_unsure_share_and_the_accuracy_of_the_rest():
    y = np.array([HAPPY, HAPPY, SAD, SAD])
    probs = one_hot([HAPPY, SAD, SAD, HAPPY], p=0.9)
    probs[1] = one_hot([SAD], p=0.3)[0]
    report = evaluation.transfer_score(y, probs, FIVE, unsure_below=0.5)
    assert report["unsure_share"] == 0.25
    assert report["sure_accuracy"] == pytest.approx(2 / 3)


def test_sure_threshold_is_where_sure_readings_are_right_often_enough():
    # Readings at 0.9 are always right, those at 0.6 right one time in three.
    y = np.array([HAPPY] * 30 + [HAPPY, SAD, SAD] * 10)
    probs = np.r_[one_hot([HAPPY] * 30, p=0.9), one_hot([HAPPY] * 30, p=0.6)]
    corpora, emotions = ["x"] * 60, {"x": FIVE}
    cut = calibration.sure_threshold(probs, y, corpora, emotions, target=0.7, min_sure=20)
    assert 0.6 < cut <= 0.9
    # Half right is right enough at 0.5 (never lower: a sure reading is more likely right than not).
    assert calibration.sure_threshold(probs, y, corpora, emotions, target=0.6, min_sure=20) == 0.5
    # A target no threshold reaches with enough readings: never sure.
    assert calibration.sure_threshold(probs, y, corpora, emotions, target=0.7, min_sure=31) == 1.0


def test_temperature_softens_an_overconfident_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 400)
    right = rng.random(400) < 0.5  # right half the time, but always 95 % sure
    predicted = np.where(right, y, (y + 1) % 5)
    probs = one_hot(predicted, p=0.95)
    corpora = np.array(["x"] * 400)
    temperature = calibration.fit_temperature(probs, y, corpora, {"x": config.EMOTIONS})
    assert temperature > 1.5
    calibrated = calibration.sharpen(probs, temperature)
    np.testing.assert_allclose(calibrated.sum(1), 1.0)
    assert (calibrated.argmax(1) == probs.argmax(1)).all()  # scaling never changes the verdict
    before = evaluation.transfer_score(y, probs, config.EMOTIONS)["ece"]
    after = evaluation.transfer_score(y, calibrated, config.EMOTIONS)["ece"]
    assert after < before / 3


def test_stacking_gives_the_informative_model_the_weight():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    good = one_hot(np.where(rng.random(300) < 0.8, y, (y + 2) % 5), p=0.6)
    noise = one_hot(rng.integers(0, 5, 300), p=0.6)
    corpora = np.array(["x"] * 300)
    weights = calibration.fit_fusion([good, noise], y, corpora, {"x": config.EMOTIONS})
    assert weights[0] > 0.5 and weights[1] < weights[0] / 4
    fused = calibration.fuse([good, noise], weights)
    assert (fused.argmax(1) == good.argmax(1)).mean() > 0.95


def test_folds_hold_each_speaker_once_and_every_corpus_in_each_fold():
    corpora = np.array(["a"] * 10 + ["b"] * 10)
    speakers = np.array([f"a{i % 5}" for i in range(10)] + [f"b{i % 10}" for i in range(10)])
    folds = evaluation.speaker_folds(corpora, speakers)
    assert sorted(np.concatenate(folds).tolist()) == list(range(20))
    for fold in folds:
        assert set(corpora[fold]) == {"a", "b"}
        for other in folds:
            if other is not fold:
                assert not set(speakers[fold]) & set(speakers[other])
    assert {c: sorted(i.tolist()) for c, i in evaluation.corpus_folds(corpora).items()} == {
        "a": list(range(10)), "b": list(range(10, 20))}
