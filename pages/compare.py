"""Compare models: the shipped models' cross-validated scores and what each one is."""

import streamlit as st

from ser import plots
from ser.evaluation import CITATION, NOT_CROSS_VALIDATED
from ser.experiment import fused_cv
from ser.inference import FUSED
from ser.models import read_cards
from ui.charts import show_figure
from ui.resources import FUSED_NAME, LISTENS_TO, short_name
from ui.scores import scores_frame, show_scores

# What the cards cannot say: why a backbone is here and what it is not.
BACKBONE_NOTES = {
    "mfcc": "No pretrained network: the baseline the learned encoders must beat.",
    "wakehubert": "WakeHuBERT-tiny is a 0.64 M-parameter network **distilled from HuBERT-base**; "
                  "it is *not* wav2vec2-base. It stands in for the Wav2Vec2 family, as the "
                  "self-supervised speech encoder the studio could ship; a wav2vec2 model appears "
                  "on this page once one is trained.",
    "wav2vec2": "A Wav2Vec2-family encoder; the emotion model learns how much to trust each of its layers.",
    "whisper": "Only the encoder of OpenAI's Whisper tiny.en runs (the part that turns sound into "
               "features); the emotion model learns how much to trust each of its layers.",
}
CONFUSION_WIDTH_PX = 460  # wide enough for a matrix's numbers; two fit side by side at 1440 px

st.title("Compare the models")
cards = read_cards()
if not cards:
    st.error("No trained models were found.")
    st.stop()
names = {card["id"]: short_name(card) for card in cards} | {FUSED: FUSED_NAME}
fused = fused_cv()  # from the out-of-fold predictions saved beside each model

st.subheader("Scores on new voices")
folds = next((card["cv"]["folds"] for card in cards if card.get("cv")), NOT_CROSS_VALIDATED)
show_scores(scores_frame(cards, names, fused), folds)

reports = {card["id"]: card["cv"] for card in cards if card.get("cv")} | ({FUSED: fused} if fused else {})
missing = [names[card["id"]] for card in cards if not card.get("cv")]
if missing:
    consequence = ("they are left out of the charts below" if reports else
                   "confusion matrices, per-emotion and per-actor charts appear here once models "
                   "are tested on held-out actors")
    st.info(f"{', '.join(missing)}: {NOT_CROSS_VALIDATED}, so there are no scores to show; "
            f"{consequence}.")

if reports:
    st.subheader("Which emotions each model mixes up")
    st.caption("Rows: the emotion acted; columns: the model's answer. Numbers count clips; the "
               "darker the cell, the larger its share of the row.")
    # Matrices wrap: two side by side on a laptop, one under the other on a projector.
    with st.container(horizontal=True):
        for model_id, report in reports.items():
            with st.container(width=CONFUSION_WIDTH_PX):
                show_figure(plots.confusion_figure(report, names[model_id]), key=f"confusion-{model_id}")
    st.subheader("Per emotion and per actor")
    st.caption("Each emotion's share of clips named correctly; the dotted line is chance (12.5 %).")
    show_figure(plots.per_class_recall_figure(reports, names), key="per-class-recall")
    st.caption("The share of each actor's clips named correctly, each actor tested by models that "
               "never heard them. Odd-numbered actors are male, even-numbered female.")
    show_figure(plots.per_actor_figure(reports, names), key="per-actor")

st.subheader("What each model listens to")
for card in cards:
    backbone = card["backbone"]
    with st.container(border=True):
        st.markdown(f"#### {short_name(card)}")
        st.markdown(f"Listens to {LISTENS_TO.get(backbone['kind'], backbone['name'])}. "
                    f"{BACKBONE_NOTES.get(backbone['kind'], '')}")
        st.markdown(f"- **Learnt from:** {card['training']['data']}\n"
                    f"- **Tested:** {card['cv'].get('folds') if card.get('cv') else NOT_CROSS_VALIDATED}")
        with st.expander("Technical details"):
            layers = "one layer" if backbone["n_layers"] == 1 else f"{backbone['n_layers']} layers"
            st.markdown(f"- **Encoder:** {backbone['name']} (`{backbone['id']}`), weights from "
                        f"{backbone['source']}\n"
                        f"- **What it passes on:** {layers} of {backbone['dim']} numbers, "
                        f"{backbone['frame_rate_hz']:g} times a second\n"
                        "- **Emotion model on top:** a small convolutional network trained here")

st.subheader("Data and citation")
st.markdown(f"Every model was trained on RAVDESS, released under CC BY-NC-SA 4.0 (non-commercial, "
            f"share-alike). Please cite:\n\n> {CITATION}")
