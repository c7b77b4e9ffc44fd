"""Familiarity: whether a clip sounds like the corpora a model learnt on."""

import numpy as np
import pytest

from ser import evaluation, familiarity


def corpus(rng, n: int, centre: float, shape=(2, 6)) -> np.ndarray:
    """``n`` clips' statistics ``(n, *shape)`` scattered around ``centre``."""
    return rng.normal(centre, 1.0, (n, *shape)).astype(np.float32)


def two_corpora(seed: int = 0):
    rng = np.random.default_rng(seed)
    stats = np.concatenate([corpus(rng, 60, 0.0), corpus(rng, 60, 4.0)])
    return stats, np.array(["a"] * 60 + ["b"] * 60), rng


def test_a_clip_like_a_training_corpus_is_more_familiar_than_one_like_none():
    stats, corpora, rng = two_corpora()
    known = familiarity.fit(stats, corpora)
    like_b, like_none = corpus(rng, 1, 4.0)[0], corpus(rng, 1, -8.0)[0]
    assert known.score(like_b) > known.score(like_none)
    assert known.scores(np.stack([like_b, like_none])) == pytest.approx([known.score(like_b),
                                                                        known.score(like_none)])


def test_held_out_familiarity_is_higher_for_a_new_speaker_than_for_a_new_corpus():
    stats, corpora, _ = two_corpora()
    speakers = np.array([f"{c}{i % 5}" for i, c in enumerate(corpora)])
    new_speaker, new_corpus = familiarity.held_out(stats, corpora, evaluation.speaker_folds(corpora, speakers))
    assert not np.isnan(new_speaker).any() and not np.isnan(new_corpus).any()
    assert (new_speaker > new_corpus).mean() > 0.95
    # ... so the threshold between them tells nearly all of them apart.
    cut = familiarity.threshold(new_speaker, new_corpus)
    assert (new_speaker >= cut).mean() > 0.9 and (new_corpus < cut).mean() > 0.9


def test_threshold_between_scores_that_do_not_overlap():
    cut = familiarity.threshold(np.linspace(1, 2, 50), np.linspace(-2, -1, 50))
    assert -1 < cut <= 1


def test_saved_familiarity_scores_the_same(tmp_path):
    stats, corpora, _ = two_corpora()
    known = familiarity.fit(stats, corpora)
    familiarity.save(known, tmp_path / "familiarity.npz")
    again = familiarity.load(tmp_path / "familiarity.npz")
    assert again.scores(stats) == pytest.approx(known.scores(stats))
