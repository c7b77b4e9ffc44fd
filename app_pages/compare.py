"""Compare models: how each model and the fused verdict score on voices they never heard."""

import streamlit as st

from ser import plots
from ser.cards import read_cards
from ser.circumplex import CITATION as CIRCUMPLEX_CITATION
from ser.corpora import CORPORA
from ser.reports import MODE_TITLES, MODES, NOT_CROSS_VALIDATED, headlines
from ui.charts import show_figure
from ui.resources import FUSED_NAME, card_names, familiar_note, get_fusion, listens_to, short_name
from ui.scores import (arousal_frame, headline_text, lead_headlines, left_out_of_warm_up, never_warmed_up,
                       show_glossary, show_table, speaker_fold_frame, transfer_frame)

# What the cards cannot say: why a backbone is here and what it is not.
BACKBONE_NOTES = {
    "mfcc": "No pretrained network: the baseline the learned encoders must beat.",
    "wakehubert": "WakeHuBERT-tiny is a 0.64 M-parameter network **distilled from HuBERT-base**; "
                  "it is *not* wav2vec2-base. It stands in for the Wav2Vec2 family, as the "
                  "self-supervised speech encoder the studio could ship; a wav2vec2 model appears "
                  "on this page once one is trained.",
    "wav2vec2": "A Wav2Vec2-family encoder; the emotion model learns how much to trust each of its layers.",
    "whisper-base": "Only the encoder of OpenAI's Whisper base runs (the part that turns sound into "
                    "features); the emotion model learns how much to trust each of its layers.",
    "whisper-tiny": "Only the encoder of OpenAI's Whisper tiny.en runs; the emotion model learns how "
                    "much to trust each of its layers.",
}
HEADLINE_KEY = "headline"  # the first screen's headline (CSS class st-key-headline, for the browser tests)
TRANSFER_WIDTH_PX = 460  # the two modes' charts side by side at 1440 px (about 950 px), stacked below
CONFUSION_WIDTH_PX = 460  # wide enough for a matrix's numbers; two fit side by side at 1440 px
# Under the transfer charts; the models that do not use the warm-up are named after it.
BARS = ("Bars: the share of clips named right, each emotion alike; the dark dash across each corpus: "
        "what guessing scores there.")

st.title("Compare the models")
cards = read_cards()
if not cards:
    st.error("No trained models were found.")
    st.stop()
names = card_names(cards)
fusion = get_fusion()
rows = headlines(cards, fusion)

# The truth first: how the models do on a voice they never heard, before anything on RAVDESS.
with st.container(key=HEADLINE_KEY):
    # One line per mode, not a box each: three boxes side by side left the third below the
    # first screen at 1024 px.
    with st.container(border=True):
        for mode, row in lead_headlines(cards, fusion).items():
            st.markdown(f"**{MODE_TITLES[mode]}.** {headline_text(row, names)}")
    left_out = ", ".join(CORPORA[c].name for c in dict.fromkeys(c for row in rows for c in row["corpora"]))
    st.caption(f"Corpora of acted speech: {left_out}. Each model learnt from all but one and was tested "
               "on the one left out: other speakers, another language, another room. Every emotion "
               "counts alike; guessing is one in the number of emotions the corpus has. Data: RAVDESS "
               "(Livingstone & Russo 2018) and the corpora cited at the end of the page.")

st.subheader("Every model on every corpus it never heard")
with st.container(horizontal=True):
    for mode in MODES:
        mode_rows = [row for row in rows if row["mode"] == mode]
        if mode_rows:
            with st.container(width=TRANSFER_WIDTH_PX):
                show_figure(plots.transfer_figure(mode_rows, names, MODE_TITLES[mode], scale_rows=rows),
                            key=f"transfer-{mode}")
st.caption(" ".join(filter(None, [BARS, never_warmed_up(left_out_of_warm_up(cards), names)])))
show_table(transfer_frame(cards, names, fusion, FUSED_NAME))
show_glossary()
st.subheader("Calm or excited, on corpora it never heard")
st.caption("Beyond naming the emotion: does the reading land on the right side of calm ↔ excited? "
           "Each emotion sits on Russell's (1980) circle of affect, a reading where its probabilities "
           "weigh it. The share of excited clips read as excited and of calm ones read as calm, "
           "averaged (neutral and disgust, level on that circle, left out); guessing scores 50 %.")
show_table(arousal_frame(cards, names))
st.subheader("On new speakers of a corpus it knows")
st.caption("Speakers left out of training, from corpora the models heard: higher than a new voice "
           "in a new setting gets.")
show_table(speaker_fold_frame(cards, names))

# RAVDESS's 8 emotions, folds by actor: the figures comparable with the literature.
reports = {card.id: card.speaker_folds["ravdess_8_class"] for card in cards
           if card.speaker_folds and "ravdess_8_class" in card.speaker_folds}
missing = [names[card.id] for card in cards if card.id not in reports]
if missing:
    st.info(f"{', '.join(missing)}: {NOT_CROSS_VALIDATED} on RAVDESS, so it is left out of the "
            "charts below.")

if reports:
    st.subheader("New actors of a corpus the models know: RAVDESS")
    st.caption("RAVDESS's other actors, its two sentences and its studio were in training, so these "
               "scores run higher than on a voice the models never heard (above).")
    st.markdown("##### Which emotions each model mixes up")
    st.caption("Rows: the emotion acted; columns: the model's answer. Numbers count clips; the "
               "darker the cell, the larger its share of the row.")
    # Matrices wrap: two side by side on a laptop, one under the other on a projector.
    with st.container(horizontal=True):
        for model_id, report in reports.items():
            with st.container(width=CONFUSION_WIDTH_PX):
                show_figure(plots.confusion_figure(report, names[model_id]), key=f"confusion-{model_id}")
    st.markdown("##### Per emotion and per actor")
    st.caption("Each emotion's share of clips named correctly; the dotted line is chance (12.5 %).")
    show_figure(plots.per_class_recall_figure(reports, names), key="per-class-recall")
    st.caption("The share of each actor's clips named correctly, each actor tested by models that "
               "never heard them. Odd-numbered actors are male, even-numbered female.")
    show_figure(plots.per_actor_figure(reports, names), key="per-actor")

st.subheader("What each model listens to")
for card in cards:
    backbone = card.backbone
    with st.container(border=True):
        st.markdown(f"#### {short_name(card)}")
        st.markdown(f"{listens_to(card)} {BACKBONE_NOTES.get(backbone.kind, '')}")
        st.markdown(f"- **Learnt from:** {card.training['data']}")
        with st.expander("Technical details"):
            layers = "one layer" if backbone.n_layers == 1 else f"{backbone.n_layers} layers"
            st.markdown(f"- **Encoder:** {backbone.name} (`{backbone.id}`), weights from "
                        f"{backbone.source}\n"
                        f"- **What it passes on:** {layers} of {backbone.dim} numbers, "
                        f"{backbone.frame_rate_hz:g} times a second\n"
                        "- **Emotion model on top:** a small network on each layer's average and "
                        "spread over the clip, trained here; its confidence is rescaled on "
                        f"corpora it never heard (temperature {card.calibration.temperature:.2f})"
                        f"{familiar_note(card)}")

st.subheader("Data and citation")
corpora = sorted({c for card in cards for c in card.training.get("corpora", [])})
st.markdown("The models were trained on these corpora; please cite them wherever these results "
            "are shown. RAVDESS is released under CC BY-NC-SA 4.0 (non-commercial, share-alike).")
for corpus in corpora:
    st.markdown(f"> {CORPORA[corpus].citation}")
st.markdown(f"The circle of affect: {CIRCUMPLEX_CITATION}")
