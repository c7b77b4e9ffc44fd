"""The models' cross-validated scores as the audience reads them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser.evaluation import NOT_CROSS_VALIDATED, scores_table
from ser.inference import FUSED

SCORE_COLUMNS = {"accuracy": "Accuracy", "UAR": "UAR", "macro-F1": "Macro-F1"}  # scores_table's -> shown
GLOSSARY = """
- **Tested on new voices** (cross-validation by speaker: {folds}). The actors are split into
  groups; each group in turn is left out of training and tested, so every score comes from
  voices the model never heard.
- **Accuracy**: the share of clips whose emotion the model names correctly.
- **UAR** (unweighted average recall): the share named correctly *for each emotion*, averaged
  over the 8 emotions, so that rarer emotions (neutral has half as many clips) count as much
  as the others.
- **Macro-F1**: like UAR, but it also penalises naming an emotion where it is absent.
- **Chance level** is 12.5 %: guessing one of 8 emotions at random.
"""


def scores_frame(cards: list[dict], names: dict[str, str], fused: dict | None) -> pd.DataFrame:
    """One row per model (short name), plus the fused reading when it was cross-validated;
    scores in percent. Columns no model fills are dropped, and so is the evaluation column
    when every row says the same (the glossary says it once)."""
    rows = cards + ([{"id": FUSED, "name": names[FUSED], "cv": fused}] if fused else [])
    table = scores_table(rows).dropna(axis="columns", how="all")
    table["model"] = [names.get(row["id"], row["name"]) for row in rows]
    table = table.drop(columns=["clips"], errors="ignore").rename(columns={"model": "Model", **SCORE_COLUMNS})
    for column in SCORE_COLUMNS.values():
        if column in table:
            table[column] = table[column] * 100
    if table["evaluation"].nunique() <= 1 and NOT_CROSS_VALIDATED not in set(table["evaluation"]):
        table = table.drop(columns=["evaluation"])
    return table.rename(columns={"evaluation": "Tested"})


def show_scores(table: pd.DataFrame, folds: str) -> None:
    """The scores table, whole percentages, every column visible; then the glossary.
    ``folds`` says how the cross-validation split the actors (from the cards)."""
    percent = st.column_config.NumberColumn(format="%.0f %%", width="small")
    st.dataframe(table, hide_index=True,
                 column_config={column: percent for column in SCORE_COLUMNS.values()})
    with st.expander("What the numbers mean"):
        st.markdown(GLOSSARY.format(folds=folds))
