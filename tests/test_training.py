"""Training on augmented copies: a held-out clip's copy is never trained on, and the copies'
features are the same every time they are made."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from ser import config, featurestore, training
from ser.backbones import get_backbone
from ser.heads import HeadConfig

N_CLIPS, COPY_OFFSET = 12, 100.0


class _Uniform:
    def predict_proba(self, stats):
        return np.full((len(stats), len(config.EMOTIONS)), 1 / len(config.EMOTIONS), np.float32)


def test_cross_validation_trains_on_the_copies_of_training_clips_only(monkeypatch):
    # A clip's statistics are its index, its copy's the index + COPY_OFFSET: what each fold
    # trained on names the clips and copies it saw.
    stats = np.arange(N_CLIPS, dtype=np.float32).reshape(N_CLIPS, 1, 1)
    labels = np.arange(N_CLIPS) % len(config.EMOTIONS)
    seen = []

    def spy(x, y, allowed, corpora, head_config, cfg):
        seen.append((np.asarray(x).ravel(), np.asarray(y)))
        return _Uniform()

    monkeypatch.setattr(training, "fit_ensemble", spy)
    folds = [np.arange(0, 5), np.arange(5, N_CLIPS)]
    allowed = np.ones((N_CLIPS, len(config.EMOTIONS)), bool)
    training.cross_validate(stats, labels, allowed, np.array(["a"] * N_CLIPS), folds,
                            HeadConfig(1, 1, len(config.EMOTIONS)), training.TrainConfig(),
                            [stats + COPY_OFFSET])
    for test, (x, y) in zip(folds, seen):
        train = np.setdiff1d(np.arange(N_CLIPS), test)
        assert sorted(x) == sorted([*train, *(train + COPY_OFFSET)])
        assert np.array_equal(y, labels[(x % COPY_OFFSET).astype(int)])  # each copy keeps its clip's label


def test_augmented_copies_are_reproducible_cached_and_differ(monkeypatch, tmp_path, make_speech):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"clip{k}.wav")
        sf.write(paths[-1], make_speech(2.0, seed=k), config.SAMPLE_RATE)
    backbone = get_backbone("mfcc")
    clean = featurestore.dataset_statistics(backbone, paths, progress=False)
    first = featurestore.augmented_statistics(backbone, paths, 0, progress=False)
    assert first.shape == clean.shape and not np.allclose(first, clean)
    assert not np.allclose(featurestore.augmented_statistics(backbone, paths, 1, progress=False), first)
    for cached in (config.CACHE_DIR / "statistics").glob("*-augmented-*.npy"):
        cached.unlink()  # made again from nothing, the same copies
    assert np.array_equal(featurestore.augmented_statistics(backbone, paths, 0, progress=False), first)


def test_two_runs_filling_the_same_cache_at_once_both_finish(monkeypatch, tmp_path, make_speech):
    # Two trainings started side by side compute the same statistics file; the one that
    # finishes second must not find its temporary file renamed away by the first.
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    path = tmp_path / "clip.wav"
    sf.write(path, make_speech(1.0, seed=0), config.SAMPLE_RATE)
    backbone = get_backbone("mfcc")
    real_save, other_finished = np.save, []

    def save_while_another_run_finishes(file, array, **kwargs):
        real_save(file, array, **kwargs)
        if "statistics" in str(file) and not other_finished:
            other_finished.append(True)
            with monkeypatch.context() as other:
                other.setattr(featurestore.os, "getpid", lambda: -1)
                featurestore.dataset_statistics(backbone, [path], progress=False)

    monkeypatch.setattr(featurestore.np, "save", save_while_another_run_finishes)
    stats = featurestore.dataset_statistics(backbone, [path], progress=False)
    assert other_finished and stats.shape[0] == 1
    assert not list((config.CACHE_DIR / "statistics").glob("*.tmp.npy"))
