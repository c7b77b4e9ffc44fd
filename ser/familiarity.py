"""How much a clip sounds like the corpora a model learnt on.

A model's confidence is calibrated twice (``ser.cards.Familiar``): on new speakers of the
corpora it learnt on (folds by speaker), where it is right far more often, and on corpora it
never heard (leave-one-corpus-out). Which of the two a clip gets depends on whether it sounds
like one of those corpora. Each corpus is summarised by a diagonal Gaussian over the
standardised clip statistics; a clip's familiarity is its best mean log-likelihood per
dimension under them (higher: more familiar).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Added to every per-corpus variance, in standardised units: a dimension nearly constant in one
# corpus (a recording chain's fixed band edge) would otherwise decide a clip's familiarity alone.
VARIANCE_FLOOR = 0.05


@dataclass(frozen=True)
class Familiarity:
    mean: np.ndarray  # (n_features,) over every training clip; n_features = n_layers * 2 * dim
    std: np.ndarray  # (n_features,)
    corpus_mean: np.ndarray  # (n_corpora, n_features), standardised
    corpus_var: np.ndarray  # (n_corpora, n_features), standardised, floor included

    def scores(self, stats: np.ndarray) -> np.ndarray:
        """Familiarity of clip statistics ``(n_clips, n_layers, 2 * dim)``: ``(n_clips,)``."""
        z = (np.asarray(stats, np.float32).reshape(len(stats), -1) - self.mean) / self.std
        best = np.full(len(z), -np.inf, np.float32)
        for mean, var in zip(self.corpus_mean, self.corpus_var):
            log_likelihood = -0.5 * ((z - mean) ** 2 / var + np.log(var)).mean(axis=1)
            best = np.maximum(best, log_likelihood)
        return best

    def score(self, stats: np.ndarray) -> float:
        """Familiarity of one clip's statistics ``(n_layers, 2 * dim)``."""
        return float(self.scores(np.asarray(stats)[None])[0])


def fit(stats: np.ndarray, corpora: np.ndarray) -> Familiarity:
    """The corpora of clip statistics ``(n_clips, n_layers, 2 * dim)``, one label per clip."""
    x = np.asarray(stats, np.float32).reshape(len(stats), -1)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    corpora = np.asarray(corpora)
    groups = [z[corpora == c] for c in np.unique(corpora)]
    return Familiarity(mean, std, np.stack([g.mean(axis=0) for g in groups]),
                       np.stack([g.var(axis=0) + VARIANCE_FLOOR for g in groups]))


def held_out(stats: np.ndarray, corpora: np.ndarray, folds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's familiarity ``(n_clips,)`` twice: as a model that never heard its speaker
    finds it (fitted without the clip's fold of its corpus: folds by speaker, ``folds`` as
    ``evaluation.speaker_folds`` gives them), and as one that never heard its corpus."""
    corpora = np.asarray(corpora)
    new_speaker = np.full(len(stats), np.nan, np.float32)
    new_corpus = np.full(len(stats), np.nan, np.float32)
    for fold in folds:
        for corpus in np.unique(corpora[fold]):
            test = fold[corpora[fold] == corpus]
            keep = np.ones(len(stats), bool)
            keep[test] = False
            new_speaker[test] = fit(stats[keep], corpora[keep]).scores(stats[test])
    for corpus in np.unique(corpora):
        test = corpora == corpus
        new_corpus[test] = fit(stats[~test], corpora[~test]).scores(stats[test])
    return new_speaker, new_corpus


def threshold(familiar: np.ndarray, unfamiliar: np.ndarray) -> float:
    """The familiarity at or above which a clip counts as familiar: the cut that best tells
    ``familiar`` scores (clips of known corpora) from ``unfamiliar`` ones, each group weighed
    equally (balanced accuracy)."""
    candidates = np.quantile(np.r_[familiar, unfamiliar], np.linspace(0.01, 0.99, 99))
    balanced = [(np.mean(familiar >= t) + np.mean(unfamiliar < t)) / 2 for t in candidates]
    return float(candidates[int(np.argmax(balanced))])


def save(familiarity: Familiarity, path: Path) -> None:
    np.savez(path, mean=familiarity.mean, std=familiarity.std, corpus_mean=familiarity.corpus_mean,
             corpus_var=familiarity.corpus_var)


def load(path: Path) -> Familiarity:
    with np.load(path, allow_pickle=False) as saved:
        return Familiarity(saved["mean"], saved["std"], saved["corpus_mean"], saved["corpus_var"])
