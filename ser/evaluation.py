"""Speaker-independent evaluation: folds by actor, scoring saved models on a folder of
clips, and the report of a model's scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ser import audio as audio_io
from ser import config
from ser.labels import fold_absent

if TYPE_CHECKING:  # scoring saved models loads them; folds and reports do not
    from ser.models import EmotionModel

N_FOLDS = 5
NO_PREDICTION = -1  # label index of a clip that got no prediction: scored as wrong
NO_SPEECH = "no speech detected"


def actor_folds(actors: np.ndarray, n_folds: int = N_FOLDS) -> list[np.ndarray]:
    """Indices of the test clips of each fold; every actor is tested exactly once.

    Actor ``a`` goes to fold ``(a - 1) % n_folds``, which mixes odd (male) and even
    (female) actors in every fold.
    """
    actors = np.asarray(actors)
    return [np.flatnonzero((actors - 1) % n_folds == k) for k in range(n_folds)]


def speaker_folds(corpora, speakers, n_folds: int = N_FOLDS) -> list[np.ndarray]:
    """Folds by speaker inside every corpus: each fold holds about 1/n_folds of every
    corpus's speakers, and every speaker is tested exactly once.

    Speakers are dealt to folds in their sorted order, so RAVDESS actor ``a`` lands in
    fold ``(a - 1) % n_folds`` as in ``actor_folds``.
    """
    corpora, speakers = np.asarray(corpora), np.asarray(speakers)
    fold_of = np.zeros(len(speakers), int)
    for corpus in np.unique(corpora):
        in_corpus = corpora == corpus
        for k, speaker in enumerate(sorted(set(speakers[in_corpus].tolist()))):
            fold_of[in_corpus & (speakers == speaker)] = k % n_folds
    return [np.flatnonzero(fold_of == k) for k in range(n_folds)]


def corpus_folds(corpora) -> dict[str, np.ndarray]:
    """Leave-one-corpus-out: the clips of each corpus, tested by a model trained on the others."""
    corpora = np.asarray(corpora)
    return {corpus: np.flatnonzero(corpora == corpus) for corpus in np.unique(corpora)}


def expected_calibration_error(confidence, correct, n_bins: int = 10) -> float:
    """ECE of top-probability confidence: the clip-weighted mean gap between accuracy and
    mean confidence over ``n_bins`` equal-width bins of confidence."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    gap = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            gap += in_bin.sum() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(gap / max(len(confidence), 1))


def transfer_score(y_true, probs, emotions: tuple[str, ...], unsure_below: float | None = None,
                   labels=config.EMOTIONS) -> dict:
    """How a model does on one corpus: UAR over that corpus's ``emotions`` (a predicted calm
    counts as neutral where the corpus has no calm; another class it lacks is wrong),
    neutral recall, accuracy, expected calibration error (10 bins, top probability),
    and, given a threshold, the share of readings marked unsure and the accuracy of the rest.
    A row of NaN probabilities (no prediction) counts as wrong.
    """
    y_true = np.asarray(y_true)
    folded = np.nan_to_num(fold_absent(probs, emotions, labels), nan=0.0)
    scored = ~np.isnan(np.asarray(probs, float)).any(axis=1)  # NaN rows: no prediction, wrong
    y_pred = np.where(scored, folded.argmax(1), NO_PREDICTION)
    confidence = folded.max(1)
    correct = y_pred == y_true
    present = [labels.index(e) for e in emotions]
    recalls = {labels[k]: float(correct[y_true == k].mean()) for k in present if (y_true == k).any()}
    report = {
        "n": int(len(y_true)),
        "uar": float(np.mean(list(recalls.values()))),
        "accuracy": float(correct.mean()),
        "neutral_recall": recalls.get("neutral"),
        "ece": expected_calibration_error(confidence, correct),
        "per_class_recall": recalls,
        "predicted_share": {labels[k]: float(np.mean(y_pred == k)) for k in range(len(labels))},
    }
    if unsure_below is not None:
        sure = confidence >= unsure_below
        report["unsure_share"] = float(1 - sure.mean())
        report["sure_accuracy"] = float(correct[sure].mean()) if sure.any() else None
    return report


def score(y_true, y_pred, actors=None, labels=config.EMOTIONS) -> dict:
    """Accuracy, unweighted average recall, macro-F1, per-class recall, per-actor
    accuracy and the confusion matrix (rows true, columns predicted) as plain JSON.

    ``y_pred`` holds label indices; -1 means "no prediction": it counts as wrong in
    every figure and appears in no column of the confusion matrix.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score  # ~0.5 s to import

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    index = np.arange(len(labels))
    recalls = recall_score(y_true, y_pred, labels=index, average=None, zero_division=0)
    report = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": float(np.mean(recalls)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=index, average="macro", zero_division=0)),
        "per_class_recall": {label: float(r) for label, r in zip(labels, recalls)},
        "labels": list(labels),
        "confusion": confusion_matrix(y_true, y_pred, labels=index).tolist(),
    }
    if actors is not None:
        actors = np.asarray(actors)
        report["per_actor_accuracy"] = {
            f"{a:02d}": float(np.mean(y_pred[actors == a] == y_true[actors == a]))
            for a in sorted(set(actors.tolist()))
        }
    return report


def clip_probabilities(path: str, models: list[EmotionModel], fusion: dict | None
                       ) -> tuple[dict[str, np.ndarray | None], str | None]:
    """Probabilities of each model id and of "fused" for one file, as ``predict`` sees it
    (``load_audio`` then ``analyse``), and why there are none.

    A file that does not load, or holds no speech, gets None from every model and the
    reason; otherwise the reason is None.
    """
    from ser.inference import analyse

    keys = [m.id for m in models] + ["fused"]
    try:
        analysis = analyse(audio_io.load_audio(path), models, fusion)
    except audio_io.AudioError as err:
        return dict.fromkeys(keys), str(err)
    if not analysis.speech:
        return dict.fromkeys(keys), NO_SPEECH
    predictions = dict(analysis.models, fused=analysis.fused)
    return {k: np.array([predictions[k].probs[e] for e in config.EMOTIONS]) for k in keys}, None


def evaluate_models(data, models: list[EmotionModel], fusion: dict | None = None,
                    progress: bool = True) -> dict:
    """Score ``models`` and their fused verdict on every clip of ``data`` (``experiment.Corpora``),
    one ``transfer_score`` per corpus, with each model's calibrated threshold.

    Returns ``{model_id or "fused": {corpus: report}}`` plus ``"unscored"``: {path: reason}
    for the clips that got no prediction (scored as wrong).
    """
    from tqdm import tqdm

    from ser.corpora import CORPORA

    keys = [m.id for m in models] + ["fused"]
    probs = {k: np.full((len(data.labels), len(config.EMOTIONS)), np.nan) for k in keys}
    unscored = {}
    for i, path in enumerate(tqdm(data.clips["path"], desc="evaluate", unit="clip", disable=not progress)):
        clip, reason = clip_probabilities(path, models, fusion)
        for k, p in clip.items():
            if p is not None:
                probs[k][i] = p
        if reason:
            unscored[path] = reason
    thresholds = {m.id: m.card.calibration.unsure_below for m in models} | {"fused": config.UNSURE_BELOW}
    reports = {k: {c: transfer_score(data.labels[data.corpora == c], probs[k][data.corpora == c],
                                     CORPORA[c].emotions, thresholds[k])
                   for c in data.corpus_ids} for k in keys}
    return reports | {"unscored": unscored, "data_sha256": data.sha256}
