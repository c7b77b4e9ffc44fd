"""The label space: which emotions a corpus can name, and scoring probabilities in it.

Corpora differ in the emotions they hold (calm only in RAVDESS, four emotions in the
Korean set); the models always speak ``config.EMOTIONS``. Kept apart from
``ser.evaluation`` and ``ser.calibration``, which both need it, so neither imports the other.
"""

from __future__ import annotations

import numpy as np

from ser import config


def allowed_mask(corpora, corpus_emotions: dict[str, tuple[str, ...]],
                 labels=config.EMOTIONS) -> np.ndarray:
    """``(n_clips, n_classes)`` bool: the classes each clip's corpus can name."""
    rows = {c: np.isin(labels, emotions) for c, emotions in corpus_emotions.items()}
    return np.stack([rows[c] for c in corpora])


def fold_absent(probs: np.ndarray, emotions: tuple[str, ...], labels=config.EMOTIONS) -> np.ndarray:
    """Probabilities as a corpus with only ``emotions`` can score them: where it has no
    "calm", calm's probability is added to "neutral" (RAVDESS's calm is a low-arousal
    neutral); other classes it lacks keep their mass and count as wrong."""
    probs = np.array(probs, dtype=np.float64)
    labels = list(labels)
    if "calm" in labels and "calm" not in emotions:
        probs[:, labels.index("neutral")] += probs[:, labels.index("calm")]
        probs[:, labels.index("calm")] = 0.0
    return probs
