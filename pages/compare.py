"""Compare models: the shipped models' cross-validated scores and what each one is."""

import streamlit as st

from ser import plots
from ser.evaluation import CITATION, NOT_CROSS_VALIDATED, scores_table
from ser.experiment import fused_cv
from ser.models import read_cards
from ui.charts import show_figure
from ui.resources import short_name

# What the cards cannot say: why a backbone is here and what it is not.
BACKBONE_NOTES = {
    "mfcc": "Hand-crafted features (MFCCs with their deltas and a log-mel spectrogram, computed "
            "with librosa): no pretrained weights, the baseline the learned encoders must beat.",
    "wakehubert": "WakeHuBERT-tiny is a 0.64 M-parameter network **distilled from HuBERT-base**; "
                  "it is *not* wav2vec2-base. It fills the Wav2Vec2-family slot because it is the "
                  "one self-supervised speech encoder that installs offline here. A wav2vec2 model "
                  "appears on this page once one is trained (`facebook/wav2vec2-base` by default).",
    "wav2vec2": "A Wav2Vec2-family encoder loaded with transformers; the head learns a weighted "
                "sum of its layers.",
    "whisper": "The encoder of OpenAI's Whisper tiny.en speech recogniser (its decoder is unused); "
               "the head learns a weighted sum of its layers.",
}

CONFUSIONS_PER_ROW = 2

st.title("Compare the models")
cards = read_cards()
if not cards:
    st.error("No trained models were found in `models/`.")
    st.stop()
names = {card["id"]: short_name(card) for card in cards}
fused = fused_cv()  # from the out-of-fold predictions saved beside each model
if fused:
    names["fused"] = "Fused (UAR-weighted)"

st.subheader("Scores")
st.caption("Speaker-independent cross-validation on RAVDESS: the actors are split into folds and "
           "every actor is tested by a model that never heard them. UAR is the mean of the "
           "per-emotion recalls (chance: 12.5 %).")
percent = st.column_config.NumberColumn(format="percent")
# Score columns that no card fills are dropped: the evaluation column says why.
fused_card = [{"name": names["fused"], "cv": fused}] if fused else []
st.dataframe(scores_table(cards + fused_card).dropna(axis="columns", how="all"), hide_index=True,
             column_config={"accuracy": percent, "UAR": percent, "macro-F1": percent})

reports = {card["id"]: card["cv"] for card in cards if card.get("cv")} | ({"fused": fused} if fused else {})
missing = [names[card["id"]] for card in cards if not card.get("cv")]
if missing:
    consequence = ("they are left out of the charts below" if reports else
                   "confusion matrices, per-emotion and per-actor charts appear here once models "
                   "are trained with cross-validation")
    st.info(f"{', '.join(missing)}: {NOT_CROSS_VALIDATED}. Their cards hold no cross-validation "
            f"report, so there are no scores to show; {consequence}.")

if reports:
    st.subheader("Confusion matrices")
    st.caption("Rows: the emotion acted; columns: the model's answer. Numbers count clips; the "
               "darker the cell, the larger its share of the row.")
    reports_in_view = list(reports.items())
    for first in range(0, len(reports_in_view), CONFUSIONS_PER_ROW):  # two per row: readable cells
        row = reports_in_view[first:first + CONFUSIONS_PER_ROW]
        for column, (model_id, report) in zip(st.columns(CONFUSIONS_PER_ROW), row):
            with column:
                show_figure(plots.confusion_figure(report, names[model_id]), key=f"confusion-{model_id}")
    st.subheader("Per emotion and per actor")
    show_figure(plots.per_class_recall_figure(reports, names), key="per-class-recall")
    show_figure(plots.per_actor_figure(reports, names), key="per-actor")

st.subheader("What each model is")
for card in cards:
    backbone = card["backbone"]
    with st.container(border=True):
        st.markdown(f"#### {card['name']}")
        st.markdown(BACKBONE_NOTES.get(backbone["kind"], ""))
        st.markdown(f"- **Backbone:** {backbone['name']} (`{backbone['id']}`)\n"
                    f"- **Weights from:** {backbone['source']}\n"
                    f"- **Features:** {backbone['n_layers']} layer(s) of {backbone['dim']} dimensions "
                    f"at {backbone['frame_rate_hz']:g} frames/s\n"
                    f"- **Trained on:** {card['training']['data']}\n"
                    f"- **Evaluation:** {card['cv'].get('folds', 'cross-validated') if card.get('cv') else NOT_CROSS_VALIDATED}")

st.subheader("Data and citation")
st.markdown(f"Every model was trained on RAVDESS, released under CC BY-NC-SA 4.0 (non-commercial, "
            f"share-alike). Please cite:\n\n> {CITATION}")
