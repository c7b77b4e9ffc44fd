"""Speaker-independent evaluation: folds by actor and the report of a model's scores."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from ser import config

N_FOLDS = 5
CITATION = (
    "Livingstone SR, Russo FA (2018). The Ryerson Audio-Visual Database of Emotional Speech "
    "and Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391"
)
DATA_LICENCE = "RAVDESS: CC BY-NC-SA 4.0"


def actor_folds(actors: np.ndarray, n_folds: int = N_FOLDS) -> list[np.ndarray]:
    """Indices of the test clips of each fold; every actor is tested exactly once.

    Actor ``a`` goes to fold ``(a - 1) % n_folds``, which mixes odd (male) and even
    (female) actors in every fold.
    """
    actors = np.asarray(actors)
    return [np.flatnonzero((actors - 1) % n_folds == k) for k in range(n_folds)]


def score(y_true, y_pred, actors=None, labels=config.EMOTIONS) -> dict:
    """Accuracy, unweighted average recall, macro-F1, per-class recall, per-actor
    accuracy and the confusion matrix (rows true, columns predicted) as plain JSON."""
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


def report_markdown(reports: dict[str, dict]) -> str:
    """A markdown summary of several models' reports: the headline table, per-class recall."""
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
    lines += ["", f"Data: {CITATION} {DATA_LICENCE}."]
    return "\n".join(lines)
