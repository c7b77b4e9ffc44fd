"""Speaker-independent evaluation: folds by actor, scoring saved models on a folder of
clips, and the report of a model's scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from ser import audio as audio_io
from ser import config

if TYPE_CHECKING:  # scoring saved models needs torch; folds and reports do not
    from ser.models import EmotionModel

N_FOLDS = 5
CITATION = (
    "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech "
    "and Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391"
)
DATA_LICENCE = "RAVDESS: CC BY-NC-SA 4.0"
NO_PREDICTION = -1  # label index of a clip that got no prediction: scored as wrong
NO_SPEECH = "no speech detected"


def actor_folds(actors: np.ndarray, n_folds: int = N_FOLDS) -> list[np.ndarray]:
    """Indices of the test clips of each fold; every actor is tested exactly once.

    Actor ``a`` goes to fold ``(a - 1) % n_folds``, which mixes odd (male) and even
    (female) actors in every fold.
    """
    actors = np.asarray(actors)
    return [np.flatnonzero((actors - 1) % n_folds == k) for k in range(n_folds)]


def score(y_true, y_pred, actors=None, labels=config.EMOTIONS) -> dict:
    """Accuracy, unweighted average recall, macro-F1, per-class recall, per-actor
    accuracy and the confusion matrix (rows true, columns predicted) as plain JSON.

    ``y_pred`` holds label indices; -1 means "no prediction": it counts as wrong in
    every figure and appears in no column of the confusion matrix.
    """
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


def clip_labels(path: str, models: list[EmotionModel]) -> tuple[dict[str, int], str | None]:
    """Predicted emotion index of each model id and of "fused" for one file, as
    ``predict`` sees it (``load_audio`` then ``analyse``), and why there is none.

    A file that does not load, or holds no speech, gets ``NO_PREDICTION`` from every
    model and the reason; otherwise the reason is None.
    """
    from ser.inference import analyse

    keys = [m.id for m in models] + ["fused"]
    try:
        analysis = analyse(audio_io.load_audio(path), models)
    except audio_io.AudioError as err:
        return dict.fromkeys(keys, NO_PREDICTION), str(err)
    if not analysis.speech:
        return dict.fromkeys(keys, NO_PREDICTION), NO_SPEECH
    predictions = dict(analysis.models, fused=analysis.fused)
    return {k: config.EMOTIONS.index(predictions[k].label) for k in keys}, None


def evaluate_models(data, models: list[EmotionModel], progress: bool = True) -> dict[str, dict]:
    """Score ``models`` and their fusion on every clip of ``data`` (``experiment.LabelledData``).

    Returns ``{model_id: score(...) report, ..., "fused": report}``. Every report also
    has ``no_speech`` and ``unreadable`` (counts) and ``unscored`` ({path: reason}):
    the clips that got no prediction, scored as wrong.
    """
    from tqdm import tqdm

    predicted = {m.id: [] for m in models} | {"fused": []}
    unscored = {}
    for path in tqdm(data.paths, desc="evaluate", unit="clip", disable=not progress):
        labels, reason = clip_labels(path, models)
        for k, index in labels.items():
            predicted[k].append(index)
        if reason:
            unscored[path] = reason
    no_speech = sum(reason == NO_SPEECH for reason in unscored.values())
    extra = {"no_speech": no_speech, "unreadable": len(unscored) - no_speech, "unscored": unscored,
             "data_sha256": data.sha256}
    return {k: score(data.labels, y_pred, data.actors) | extra for k, y_pred in predicted.items()}


def report_markdown(reports: dict[str, dict]) -> str:
    """A markdown summary of several models' reports: the headline table, per-class
    recall, per-actor accuracy (where the reports have it) and each confusion matrix."""
    lines = [
        "| model | clips | accuracy | UAR | macro-F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for model_id, r in reports.items():
        lines.append(
            f"| {model_id} | {r['n']} | {r['accuracy']:.3f} | {r['uar']:.3f} | {r['macro_f1']:.3f} |"
        )
    labels = next(iter(reports.values()))["labels"] if reports else []
    lines += ["", "Per-class recall:", "", "| model | " + " | ".join(labels) + " |"]
    lines.append("|---|" + "---:|" * len(labels))
    for model_id, r in reports.items():
        recalls = " | ".join(f"{r['per_class_recall'][label]:.2f}" for label in labels)
        lines.append(f"| {model_id} | {recalls} |")
    lines += _per_actor_lines(reports)
    for model_id, r in reports.items():
        lines += _confusion_lines(model_id, r)
    lines += ["", f"Data: {CITATION} {DATA_LICENCE}."]
    return "\n".join(lines)


def _per_actor_lines(reports: dict[str, dict]) -> list[str]:
    """Accuracy per actor (rows) and model (columns); nothing when no report has actors."""
    with_actors = {k: r["per_actor_accuracy"] for k, r in reports.items() if "per_actor_accuracy" in r}
    if not with_actors:
        return []
    actors = sorted({a for accuracies in with_actors.values() for a in accuracies})
    lines = ["", "Per-actor accuracy:", "", "| actor | " + " | ".join(with_actors) + " |"]
    lines.append("|---|" + "---:|" * len(with_actors))
    for actor in actors:
        cells = " | ".join(f"{acc[actor]:.2f}" if actor in acc else "" for acc in with_actors.values())
        lines.append(f"| {actor} | {cells} |")
    return lines


def _confusion_lines(model_id: str, report: dict) -> list[str]:
    """The confusion matrix of one report: rows true emotion, columns predicted, clip counts."""
    labels = report["labels"]
    lines = ["", f"Confusion matrix of {model_id} (rows true, columns predicted):", "",
             "| true / predicted | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for label, row in zip(labels, report["confusion"]):
        lines.append(f"| {label} | " + " | ".join(str(n) for n in row) + " |")
    return lines


NOT_CROSS_VALIDATED = "not cross-validated"


def scores_table(cards: list[dict]) -> pd.DataFrame:
    """One row per model card: its cross-validated accuracy, UAR and macro-F1 (0..1).

    A card whose ``cv`` is null keeps its row, with empty scores and
    ``NOT_CROSS_VALIDATED`` as its evaluation, so no model silently disappears.
    """
    rows = []
    for card in cards:
        cv = card.get("cv")
        rows.append({
            "model": card["name"],
            "clips": cv["n"] if cv else None,
            "accuracy": cv["accuracy"] if cv else None,
            "UAR": cv["uar"] if cv else None,
            "macro-F1": cv["macro_f1"] if cv else None,
            "evaluation": cv.get("folds", "cross-validated") if cv else NOT_CROSS_VALIDATED,
        })
    return pd.DataFrame(rows, columns=["model", "clips", "accuracy", "UAR", "macro-F1", "evaluation"])
