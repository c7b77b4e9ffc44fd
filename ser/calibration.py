"""Confidence that means something: temperature scaling and stacked fusion.

Both are fitted on out-of-fold probabilities of clips from corpora the model never
heard (leave-one-corpus-out), never on its training data. Targets follow the
corpus's label space (``labels.fold_absent``): where a corpus has no "calm",
a neutral clip counts as right when the model says neutral or calm.
"""

from __future__ import annotations

import numpy as np

from ser import config
from ser.labels import fold_absent

EPS = 1e-9
TEMPERATURE_RANGE = (0.25, 8.0)  # wider than any fit seen; bounds keep the search finite


def sharpen(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``probs ** (1 / temperature)`` renormalised: temperature scaling of log-probabilities
    ``(n_clips, n_classes)`` (or one clip's ``(n_classes,)``)."""
    logits = np.log(np.clip(probs, EPS, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=-1, keepdims=True)


def target_nll(probs: np.ndarray, y_true, corpora, corpus_emotions: dict[str, tuple[str, ...]]) -> float:
    """Mean negative log-likelihood of each clip's true label in its corpus's label space."""
    probs, y_true, corpora = np.asarray(probs), np.asarray(y_true), np.asarray(corpora)
    total = 0.0
    for corpus in np.unique(corpora):
        rows = corpora == corpus
        folded = fold_absent(probs[rows], corpus_emotions[corpus])
        total += -np.log(np.clip(folded[np.arange(rows.sum()), y_true[rows]], EPS, 1.0)).sum()
    return total / len(y_true)


def fit_temperature(probs, y_true, corpora, corpus_emotions) -> float:
    """The temperature that minimises ``target_nll`` of held-out probabilities."""
    from scipy.optimize import minimize_scalar  # fitting only; inference never needs scipy.optimize

    result = minimize_scalar(
        lambda log_t: target_nll(sharpen(probs, np.exp(log_t)), y_true, corpora, corpus_emotions),
        bounds=tuple(np.log(TEMPERATURE_RANGE)), method="bounded")
    return float(np.exp(result.x))


def fuse(prob_list: list[np.ndarray], weights) -> np.ndarray:
    """Log-linear fusion: ``softmax(sum_m w_m log p_m)`` over models m; ``weights`` (M,) >= 0
    also set the fused verdict's sharpness, so no separate temperature is needed."""
    logits = sum(w * np.log(np.clip(p, EPS, 1.0)) for w, p in zip(weights, prob_list))
    logits = logits - logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=-1, keepdims=True)


def fit_fusion(prob_list: list[np.ndarray], y_true, corpora, corpus_emotions) -> np.ndarray:
    """Stacking: non-negative weights (M,) of ``fuse`` minimising ``target_nll`` of
    out-of-fold probabilities."""
    from scipy.optimize import minimize

    def loss(w):
        return target_nll(fuse(prob_list, w), y_true, corpora, corpus_emotions)

    start = np.full(len(prob_list), 1.0 / len(prob_list))
    result = minimize(loss, start, method="L-BFGS-B", bounds=[(0.0, 5.0)] * len(prob_list))
    return result.x


def sure_threshold(probs: np.ndarray, y_true, corpora, corpus_emotions: dict[str, tuple[str, ...]],
                   target: float = config.SURE_ACCURACY, min_sure: int = config.MIN_SURE_READINGS) -> float:
    """The lowest calibrated top probability, from ``config.UNSURE_BELOW`` up in steps of 0.01,
    at which the readings ``probs`` ``(n_clips, n_classes)`` at or above it are right at least
    ``target`` of the time (in each clip's corpus's label space), at least ``min_sure`` of them;
    1.0 (never sure) where no such threshold exists."""
    y_true, corpora = np.asarray(y_true), np.asarray(corpora)
    confidence, correct = np.zeros(len(y_true)), np.zeros(len(y_true), bool)
    for corpus in np.unique(corpora):
        rows = corpora == corpus
        folded = fold_absent(probs[rows], corpus_emotions[corpus])
        confidence[rows], correct[rows] = folded.max(1), folded.argmax(1) == y_true[rows]
    for threshold in np.arange(round(config.UNSURE_BELOW * 100), 100) / 100:
        sure = confidence >= threshold
        if sure.sum() < min_sure:
            break
        if correct[sure].mean() >= target:
            return float(threshold)
    return 1.0


def unsure(confidence: float | np.ndarray, threshold: float = config.UNSURE_BELOW):
    """Whether a calibrated top probability is too low to state as a verdict."""
    return np.asarray(confidence) < threshold
