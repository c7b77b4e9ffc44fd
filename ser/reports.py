"""What the models measured, as tables: for the CLI, the README and the app's pages.

Reads model cards and ``models/fusion.json`` only; needs neither torch nor the
training code, so pages may import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ser import config
from ser.cards import ModelCard
from ser.corpora import CORPORA, citations
from ser.modes import ADAPTED, MODES, PLAIN, VOICE, WARMED_UP

if TYPE_CHECKING:  # tables only: predicting a clip reads fusion.json and needs no pandas
    import pandas as pd

CV_PREDICTIONS_FILE = "cv_predictions.csv"
FUSION_FILE = "fusion.json"
FUSED = "fused"
NOT_CROSS_VALIDATED = "not cross-validated"


# --- the fused verdict ----------------------------------------------------------------------
def fusion_report(model_ids: list[str], weights, held_out: dict[str, dict]) -> dict:
    """What ``fusion.json`` holds: the stacking weights fitted on every left-out corpus, and
    the fused verdict's transfer reports, each corpus scored with weights fitted without it."""
    return {"models": list(model_ids), "weights": [round(float(w), 4) for w in weights],
            "fitted_on": "leave-one-corpus-out predictions of the models", "transfer": held_out}


def read_fusion(models_dir: Path = config.MODELS_DIR) -> dict | None:
    """The parsed ``fusion.json`` of ``models_dir``, or None when there is none."""
    path = Path(models_dir) / FUSION_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def mean_uar(transfer: dict | None) -> float | None:
    return sum(r["uar"] for r in transfer.values()) / len(transfer) if transfer else None


def _leading(scored: dict[str, float], fused: float | None) -> str:
    """The best-scoring single model, or the fused verdict where its score beats that
    model's by ``config.FUSED_LEAD_MARGIN`` (a tie goes to the reading an audience can trace)."""
    if not scored:
        return FUSED
    best = max(scored, key=scored.get)
    return FUSED if fused is not None and fused >= scored[best] + config.FUSED_LEAD_MARGIN else best


def _fused_transfer(cards: list[ModelCard], fusion: dict | None) -> dict | None:
    """The fused verdict's transfer reports, when it fuses only models among ``cards``."""
    if fusion and set(fusion["models"]) <= {c.id for c in cards}:
        return fusion["transfer"]
    return None


def lead_id(cards: list[ModelCard], fusion: dict | None) -> str:
    """The reading to lead with: the model with the best mean UAR on left-out corpora, or
    the fused verdict where it beats every single model there by ``config.FUSED_LEAD_MARGIN``."""
    scored = {c.id: c.mean_transfer_uar for c in cards if c.mean_transfer_uar is not None}
    if not scored:  # no transfer figures: fall back to the in-corpus figure
        scored = {c.id: c.ravdess_uar or 0.0 for c in cards}
    return _leading(scored, mean_uar(_fused_transfer(cards, fusion)))


# --- the headline per reading mode -------------------------------------------------------------
# How a reading hears a clip (``ser.modes``): as it is, among the other clips of its setting,
# relative to its speaker's plain voice, or after that speaker's acted warm-up. Every page that
# states how well the models do on a new voice takes its figures from ``headlines``, so no two of
# them can disagree.
MODE_TITLES = {PLAIN: "As heard", ADAPTED: "Adapted to the setting", VOICE: "Calibrated to the voice",
               WARMED_UP: "After a warm-up"}
# The adapted settings heard clip by clip, as the Live page hears a session (``ReadingMode.one_by_one``).
ONE_BY_ONE_TITLE = "Adapted, heard clip by clip"


def mode_transfer(card: ModelCard, mode: str) -> dict | None:
    """A card's leave-one-corpus-out reports in ``mode``, or None."""
    if mode == PLAIN:
        return card.transfer
    reading = getattr(card, mode)
    return reading.transfer if reading else None


def chance(corpus: str) -> float:
    """What guessing scores on ``corpus``: one in the number of emotions it holds."""
    return 1 / len(CORPORA[corpus].emotions)


def headlines(cards: list[ModelCard], fusion: dict | None = None) -> list[dict]:
    """How often each reading names the emotion right on corpora it never heard, per mode.

    One row per (mode, model), modes in ``MODES`` order, models in the cards' order and the
    fused verdict last: ``{"mode", "model"`` (card id or ``FUSED``), ``"right"`` (mean UAR over
    the left-out corpora), ``"chance"`` (mean of each one's ``chance``), ``"corpora"``
    (``{corpus: {"right", "chance"}}``), ``"lead": bool}`` (the reading its mode leads with, by
    ``lead_id``'s rule). An adapted row also holds ``"one_by_one"``: its mean UAR with the same
    settings heard clip by clip, as the Live page hears them (None where not measured). Readings
    without leave-one-corpus-out figures have no row.
    """
    rows = []
    for mode in MODES:
        entries = [(c.id, mode_transfer(c, mode)) for c in cards]
        if mode == PLAIN:  # the fused verdict's weights were fitted on plain readings
            entries.append((FUSED, _fused_transfer(cards, fusion)))
        mode_rows = []
        for model, transfer in entries:
            if not transfer:
                continue
            per = {corpus: {"right": r["uar"], "chance": chance(corpus)} for corpus, r in transfer.items()}
            row = {"mode": mode, "model": model, "right": mean_uar(transfer),
                   "chance": sum(c["chance"] for c in per.values()) / len(per), "corpora": per}
            if mode == ADAPTED:
                heard = next(c.adapted.one_by_one for c in cards if c.id == model)
                row["one_by_one"] = mean_uar(heard["transfer"]) if heard else None
            mode_rows.append(row)
        scores = {r["model"]: r["right"] for r in mode_rows}
        lead = _leading({k: v for k, v in scores.items() if k != FUSED}, scores.get(FUSED))
        rows += [dict(r, lead=r["model"] == lead) for r in mode_rows]
    return rows


# --- tables -----------------------------------------------------------------------------------


def transfer_table(cards: list[ModelCard], fusion: dict | None = None, mode: str = PLAIN) -> pd.DataFrame:
    """One row per (model, left-out corpus) in ``mode``: UAR, neutral and sad recall, calibration
    error, the share of readings marked unsure, the accuracy of the others (fractions 0..1) and,
    for an adapting mode, the share read in it (the rest fell back to plain). The fused verdict
    has a row in plain mode only (its weights were fitted on plain readings)."""
    import pandas as pd

    suffix = "" if mode == PLAIN else f", {MODE_TITLES[mode].lower()}"
    entries = [(c.name + suffix, mode_transfer(c, mode)) for c in cards if mode_transfer(c, mode)]
    if fusion and mode == PLAIN:
        entries.append(("Fused verdict", fusion["transfer"]))
    columns = ["model", "left-out corpus", "UAR", "neutral recall", "sad recall", "calibration error",
               "unsure", "accuracy when sure"] + ([] if mode == PLAIN else ["read in mode"])
    rows = []
    for name, transfer in entries:
        for corpus, r in transfer.items():
            row = {"model": name, "left-out corpus": CORPORA[corpus].name, "UAR": r["uar"],
                   "neutral recall": r["neutral_recall"], "sad recall": r["per_class_recall"].get("sad"),
                   "calibration error": r["ece"], "unsure": r.get("unsure_share"),
                   "accuracy when sure": r.get("sure_accuracy"), "read in mode": r.get("read_in_mode")}
            rows.append({k: row[k] for k in columns})
    return pd.DataFrame(rows, columns=columns)


def _mode_transfers(cards: list[ModelCard]):
    """(title, card, its leave-one-corpus-out reports, its one-emotion sessions or None) for
    every reading measured, modes in ``MODES`` order, cards in theirs; the adapted readings
    heard clip by clip follow those read at once."""
    for mode in MODES:
        for card in cards:
            transfer = mode_transfer(card, mode)
            if transfer:
                reading = getattr(card, mode) if mode != PLAIN else None
                yield MODE_TITLES[mode], card, transfer, reading.one_emotion if reading else None
        for card in cards if mode == ADAPTED else ():
            heard = card.adapted.one_by_one if card.adapted else None
            if heard:
                yield ONE_BY_ONE_TITLE, card, heard["transfer"], heard["one_emotion"]


def mode_summary_table(cards: list[ModelCard]) -> pd.DataFrame:
    """One row per (mode, model): the means over left-out corpora of UAR, of the worst emotion's
    recall and of calibration error; and on one-emotion sessions (the adaptations' failure
    case), accuracy in the mode against plain on the same clips."""
    import numpy as np
    import pandas as pd

    rows = []
    for title, card, transfer, one in _mode_transfers(cards):
        one = one or {}
        rows.append({
            "mode": title, "model": card.name,
            "UAR": float(np.mean([r["uar"] for r in transfer.values()])),
            "lowest UAR": min(r["uar"] for r in transfer.values()),
            "worst emotion's recall": float(np.mean([min(r["per_class_recall"].values())
                                                      for r in transfer.values()])),
            "calibration error": float(np.mean([r["ece"] for r in transfer.values()])),
            "one-emotion sessions": one.get("accuracy"), "same clips, plain": one.get("plain_accuracy")})
    return pd.DataFrame(rows)


def _pooled_confidence(reports: list[dict]) -> tuple[float | None, float | None]:
    """The unsure share and the accuracy of the sure readings over every clip of ``reports``
    (``evaluation.transfer_score`` reports with a threshold) together."""
    n = sum(r["n"] for r in reports)
    sure = [(r["n"] * (1 - r["unsure_share"]), r.get("sure_accuracy") or 0.0) for r in reports
            if r.get("unsure_share") is not None]
    n_sure = sum(k for k, _ in sure)
    if not sure or not n:
        return None, None
    return 1 - n_sure / n, (sum(k * a for k, a in sure) / n_sure if n_sure else None)


def confidence_table(cards: list[ModelCard]) -> pd.DataFrame:
    """One row per (mode, model): over every clip of the left-out corpora, the share of readings
    shown as a question and the accuracy of the others; for plain readings, the same on RAVDESS
    with folds by actor (new speakers of a known corpus), with its calibration error."""
    import pandas as pd

    rows = []
    for title, card, transfer, _ in _mode_transfers(cards):
        unsure, right = _pooled_confidence(list(transfer.values()))
        plain = title == MODE_TITLES[PLAIN]
        ravdess = ((card.speaker_folds or {}).get("corpora") or {}).get("ravdess") if plain else None
        rows.append({"mode": title, "model": card.name, "unsure, left-out corpora": unsure,
                     "right when sure, left-out corpora": right,
                     "unsure, RAVDESS new actors": ravdess and ravdess.get("unsure_share"),
                     "right when sure, RAVDESS new actors": ravdess and ravdess.get("sure_accuracy"),
                     "calibration error, RAVDESS new actors": ravdess and ravdess["ece"]})
    return pd.DataFrame(rows)


def speaker_fold_table(cards: list[ModelCard]) -> pd.DataFrame:
    """One row per model: UAR per corpus with folds by speaker inside every corpus (empty for a
    model that was not cross-validated). RAVDESS is scored on its 8 emotions; ASED also on its
    two common sentences alone, whose words do not give the emotion away."""
    import pandas as pd

    rows = []
    for card in cards:
        row = {"model": card.name}
        for corpus, r in (card.speaker_folds or {}).get("corpora", {}).items():
            row[CORPORA[corpus].name] = r["uar"]
            if "common_sentences" in r:
                row[f"{CORPORA[corpus].name}, common sentences"] = r["common_sentences"]["uar"]
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table of ``frame``; numbers to ``digits`` decimals, missing values as a dash."""
    import pandas as pd

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "–"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(frame.columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def results_markdown(cards: list[ModelCard], fusion: dict | None = None) -> str:
    """The README's results: a summary per reading mode, the transfer table of each mode, the
    folds-by-speaker table, citations."""
    corpora = sorted({c for card in cards for c in card.training.get("corpora", [])})
    parts = ["Leave-one-corpus-out, every reading mode (means over the left-out corpora; one-emotion "
             "sessions: one speaker's clips of one emotion, accuracy):", "",
             markdown_table(mode_summary_table(cards)), "",
             "Confidence, every reading mode (all clips of the left-out corpora together; RAVDESS, folds by "
             "actor, for the plain reading):", "", markdown_table(confidence_table(cards)), ""]
    for mode, title in MODE_TITLES.items():
        table = transfer_table(cards, fusion, mode)
        if not table.empty:
            parts += [f"Leave-one-corpus-out, {title.lower()} (trained on the other corpora, calibrated without "
                      "the left-out one):", "", markdown_table(table), ""]
    return "\n".join(parts + [
        "Folds by speaker inside every corpus (UAR):", "",
        markdown_table(speaker_fold_table(cards)), "",
        "Data: " + " ".join(citations(corpora)),
    ])


# --- per-class detail of one score report (evaluation.score) ----------------------------------
def report_markdown(reports: dict[str, dict]) -> str:
    """A markdown summary of several ``evaluation.score`` reports: the headline table,
    per-class recall, per-actor accuracy (where the reports have it) and each confusion matrix."""
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
