"""About: what the models can and cannot do, the data, the licences."""

import streamlit as st

from ser import config
from ser.cards import read_cards
from ser.corpora import CORPORA
from ser.reports import MODE_TITLES
from ui.resources import card_names, get_fusion
from ui.scores import headline_text, lead_headlines

st.title("About this studio")

st.markdown(f"""
This studio guesses the emotion in a short stretch of speech with several models that
share one recipe: a speech encoder turns the audio into a stream of numbers describing
the sound, and a small network, trained here, turns that stream into a probability for
each of {len(config.EMOTIONS)} emotions: {", ".join(config.EMOTIONS)}.
The studio leads with the reading that scored best on a corpus it never heard. *All models*
combines the models' probabilities with weights fitted on such corpora. Each model's
confidence is rescaled twice: for a clip that sounds like the corpora it learnt on, on new
speakers of those corpora; for any other clip, on corpora it never heard. Either way "70 %"
means right about 70 % of the time there. Where the confidence is too low (under 50 % for a
familiar clip; for any other, under the level from which readings of corpora never heard
were right 70 % of the time), it names its two likeliest emotions as a question ("angry or
sad?") instead of pretending to be sure.
""")

st.subheader("What the models can and cannot do")
cards = read_cards()
# The same figures as the Compare page's headline, from the same function.
headline_lines = "\n".join(f"- *{MODE_TITLES[mode]}*: {headline_text(row, card_names(cards))}"
                            for mode, row in lead_headlines(cards, get_fusion()).items())
trained_on = cards[0].training["data"].split("; ")  # "RAVDESS (English) 1200 clips, 20 speakers", …
trained_on_text = "; ".join(trained_on)
st.markdown(f"""
**They learned from acted speech, and only from that.** The models were trained on
{len(trained_on)} corpora of acted emotion, in studios, from set texts: {trained_on_text}.
(Each model's card, on the
Compare page, says exactly which clips it saw.) Tested on a corpus left out of training:

{headline_lines}

Far above guessing, far from sure. What that means in practice:

- **What they handle best:** short (2 to 5 s) clips of clearly acted emotion,
  recorded with a good microphone and little noise. The Compare page gives
  the scores measured on actors each model never heard.
- **Acted is not felt.** Acted emotion is usually more pronounced than everyday
  emotion, so a live speaker often reads as *neutral* or *calm* whatever they feel.
- **Another microphone, room or language is a different world.** Laptop microphones,
  echo, background noise and compression change the sound the models rely on. Languages
  beyond the five they learnt, children's voices and unscripted speech were never in
  training. A *warm-up* (Live) helps most here: the speaker says one sentence four ways, as
  asked, and the models then hear each clip against those takes of the same room and voice.
  *Adapted to the setting* (Upload, Live) comes next: each clip heard against the others.
- **Sad is the hardest.** On corpora they never heard, sad is the emotion they name least
  often (the Compare page's table).
- **Eight fixed classes.** Mixed, subtle or other emotions (boredom, contempt,
  sarcasm) are forced into one of the eight.
- **Short windows.** Long recordings are cut into {config.WINDOW_S:g} s windows every
  {config.HOP_S:g} s; each window is judged on its own.
- **Not for decisions about people.** These are demonstration models of acted
  speech: do not use them to judge anyone's mood, honesty, health or suitability.
- **Silence is not classified.** When a clip holds less than
  {config.VAD_MIN_SPEECH_S:g} s of voice, the studio says "no speech detected" instead
  of guessing.
""")

st.subheader("The data")
st.markdown("""
RAVDESS is released on Zenodo (record 1188976) under the Creative Commons
Attribution-NonCommercial-ShareAlike 4.0 licence (CC BY-NC-SA 4.0): free for non-commercial
use with attribution, and derived material must be shared alike. The example clips in
`examples/` are RAVDESS clips under the same licence. nEMO and the Korean EmotionTTS set are
CC BY-NC-SA 4.0 too (the Korean set for research only), TESS is CC BY-NC-ND 4.0, ASED and EMOVO
are shared for research.
Please cite:
""")
for corpus in CORPORA.values():
    st.markdown(f"> **{corpus.name}**: {corpus.citation}")

st.subheader("The backbones and their licences")
lines = [f"- **{card.backbone.name}** (`{card.backbone.id}`): {card.backbone.source}"
         for card in cards]
st.markdown("\n".join(lines) + """

The hand-crafted features are librosa's (ISC-licensed), computed in numpy. The Whisper encoder is
built in PyTorch through transformers (Apache-2.0) from the CTranslate2 file's weights and
exported once to ONNX; ONNX Runtime (MIT), which runs it, WakeHuBERT-tiny and the trained
heads, does the listening.
The trained heads in `models/` are derived from all six corpora, so they carry the
non-commercial, share-alike terms of RAVDESS, nEMO and the Korean set and are for research use.""")
