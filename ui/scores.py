"""The models' measured scores as the audience reads them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser.cards import ModelCard
from ser.corpora import CORPORA
from ser.reports import speaker_fold_table, transfer_table

PERCENT_COLUMNS = ("UAR", "neutral recall", "calibration error", "unsure", "accuracy when sure")
TRANSFER_COLUMNS = {"model": "Model", "left-out corpus": "Tested on", "neutral recall": "Neutral recall",
                    "calibration error": "Calibration error", "unsure": "Unsure",
                    "accuracy when sure": "Right when sure"}
SHORT_CORPUS_NAMES = {c.name: c.name.split(" ")[0] for c in CORPORA.values()}  # "ASED (Amharic)" -> "ASED"
GLOSSARY = """
- **A corpus it never heard**: each model is trained on two of the three corpora (English,
  Amharic, Italian) and tested on the third: other speakers, another language, another room.
  That is the closest the studio can measure to a new person's voice.
- **UAR** (unweighted average recall): the share of clips named correctly *for each emotion*,
  averaged over the emotions the corpus has, so every emotion counts the same. Guessing at
  random scores 1 in the number of emotions (14–20 %). Where a corpus has no "calm",
  a model's "calm" counts as "neutral".
- **Neutral recall**: the share of calm, neutral speech the model calls neutral.
- **Calibration error**: how far the confidence shown is from how often the model is right
  (0 % = "70 % sure" is right 70 % of the time).
- **Unsure**: the share of readings whose calibrated confidence is under 50 %, shown as a
  question ("angry or sad?"); **accuracy when sure** is how often the other readings are right.
- **New speakers of a known corpus**: each corpus's speakers are split into five groups; each
  group in turn is left out of training and tested. RAVDESS is scored on its 8 emotions.
"""


def _percent(table: pd.DataFrame) -> pd.DataFrame:
    for column in table.columns:
        if column in PERCENT_COLUMNS or pd.api.types.is_float_dtype(table[column]):
            table[column] = table[column] * 100
    return table


def transfer_frame(cards: list[ModelCard], names: dict[str, str], fusion: dict | None,
                   fused_name: str) -> pd.DataFrame:
    """One row per (model, left-out corpus), short model names, scores in percent."""
    table = transfer_table(cards, fusion)
    long_to_short = {card.name: names[card.id] for card in cards} | {"Fused verdict": fused_name}
    table["model"] = table["model"].map(long_to_short)
    table["left-out corpus"] = table["left-out corpus"].map(SHORT_CORPUS_NAMES)
    return _percent(table.rename(columns=TRANSFER_COLUMNS))


def speaker_fold_frame(cards: list[ModelCard], names: dict[str, str]) -> pd.DataFrame:
    table = speaker_fold_table(cards)
    table["model"] = [names[card.id] for card in cards]
    renamed = {"model": "Model"} | {f"{CORPORA[c].name}{suffix}": f"{short}{suffix}"
                                    for c, short in (("ased", "ASED"), ("emovo", "EMOVO"))
                                    for suffix in ("", ", common sentences")}
    renamed[CORPORA["ravdess"].name] = "RAVDESS (8 emotions)"
    return _percent(table.rename(columns=renamed))


def show_table(table: pd.DataFrame) -> None:
    """A scores table in whole percentages, as a static table: every row and column shows
    and headers wrap, where a scrolling grid hid the last columns at 1024 px."""
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    shown = table.copy()
    for column in numeric:
        shown[column] = [("–" if pd.isna(v) else f"{v:.0f} %") for v in table[column]]
    st.table(shown.set_index(shown.columns[0]))


def show_glossary() -> None:
    with st.expander("What the numbers mean"):
        st.markdown(GLOSSARY)
