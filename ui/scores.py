"""The models' measured scores as the audience reads them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser.cards import ModelCard
from ser.circumplex import arousal_agreement
from ser.corpora import CORPORA
from ser.reports import headlines, speaker_fold_table, transfer_table

PERCENT_COLUMNS = ("UAR", "neutral recall", "calibration error", "unsure", "accuracy when sure")
# Plain words for the audience; the glossary says exactly what each one is.
RIGHT = "Right (each emotion alike)"
TRANSFER_COLUMNS = {"model": "Model", "left-out corpus": "Tested on", "UAR": RIGHT,
                    "neutral recall": "Neutral heard as neutral", "calibration error": "Confidence off by",
                    "unsure": "Shown as a question", "accuracy when sure": "Right when not a question"}
# The warm-up's failure cases (``ReadingMode.failure_cases``) as a visitor would put them.
FAILURE_CASE_TEXT = {"one emotion": "all in one emotion", "emotions not prompted":
                     "all in one emotion the warm-up did not ask for", "not acted": "after a warm-up not acted"}
NEVER_SURE = "never sure"  # a share of readings "when sure" where every reading was a question
NBSP = "\u00a0"  # between a number and its "%": a narrow column never breaks "28" from "%"
SHORT_CORPUS_NAMES = {c.name: c.name.split(" ")[0] for c in CORPORA.values()}  # "ASED (Amharic)" -> "ASED"
GLOSSARY = """
- **A corpus it never heard**: each model is trained on all but one of the six corpora (English,
  Amharic, Italian, Polish, Korean) and tested on the one left out: other speakers, often
  another language, another room. That is the closest the studio can measure to a new
  person's voice.
- **Right (each emotion alike)**, or UAR (unweighted average recall): the share of clips named
  correctly *for each emotion*, averaged over the emotions the corpus has, so every emotion
  counts the same. **Guessing** scores one in the number of emotions: {guessing}. Where a
  corpus has no "calm", a model's "calm" counts as "neutral".
- **Adapted to the setting**: the model reads each clip among the others heard in the same
  setting (a batch of uploads, a live session), not against the corpora it learnt on. Measured
  on settings of about 30 clips of one speaker; with fewer clips it gains less. Clips that all
  sound alike (one emotion, most likely) are read as heard.
- **Calibrated to the voice**: the model first hears the speaker read plainly, in their everyday
  voice, and then judges each clip against that (measured with two neutral clips of each
  speaker as the reference). Until it has heard two clips of that voice that sound different
  against the reference, and whenever they all sound alike (one emotion, or a reference spoken
  in it), each clip is read as heard.
- **After a warm-up**: the speaker first says one sentence four ways, as asked: plainly,
  happily, sadly and angrily. The model hears every later clip against those four takes
  and learns which way the voice, room and microphone lean. Measured with one clip of each of
  the four emotions as each speaker's warm-up, on the speakers who have all four, and their
  other clips. When the four takes do not sound like the four emotions asked for (not acted),
  each clip is read as heard.
- **Neutral heard as neutral**: the share of neutral speech the model calls neutral.
- **Confidence off by** (calibration error): how far the confidence shown is from how often the
  model is right (0 % = "70 % sure" is right 70 % of the time).
- **Shown as a question**: the share of readings shown as "angry or sad?": under 50 % for a
  clip that sounds like the corpora the model learnt on; for any other clip, or in a mode,
  under the confidence from which such readings of corpora it never heard were right 70 % of
  the time. **Right when not a question** is how often the other readings are right (*never
  sure*: every reading was a question).
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
        missing = NEVER_SURE if column == TRANSFER_COLUMNS["accuracy when sure"] else "–"
        shown[column] = [(missing if pd.isna(v) else f"{v:.0f}{NBSP}%") for v in table[column]]
    st.table(shown.set_index(shown.columns[0]))


def show_glossary() -> None:
    with st.expander("What the numbers mean"):
        guessing = ", ".join(f"1 in {len(c.emotions)} on {SHORT_CORPUS_NAMES[c.name]}"
                             for c in CORPORA.values())
        st.markdown(GLOSSARY.format(guessing=guessing))


def times_in_ten(share: float, digits: int = 0) -> str:
    """A share as times in 10: 0.389 -> "4"; with ``digits=1``, 0.156 -> "1.6"."""
    return f"{share * 10:.{digits}f}"


def headline_text(row: dict, names: dict[str, str]) -> str:
    """One mode's headline (a row of ``ser.reports.headlines``) as a sentence for the audience."""
    # One decimal: whole numbers rounded the adapted batch (0.46) and the warm-up (0.485) both to 5.
    text = (f"On voices and languages it never heard, **{names.get(row['model'], row['model'])}** "
            f"names the emotion right about **{times_in_ten(row['right'], 1)} times in 10** "
            f"(guessing: {times_in_ten(row['chance'], 1)} in 10).")
    if row.get("one_by_one") is not None:  # the Live page adapts as it goes, and gains less
        text += (f" That is a batch read at once; heard clip by clip, as the Live page hears a session, "
                 f"{times_in_ten(row['one_by_one'], 1)} in 10.")
    return text


def lead_headlines(cards: list[ModelCard], fusion: dict | None) -> dict[str, dict]:
    """Mode -> the headline row of the reading that mode leads with."""
    return {row["mode"]: row for row in headlines(cards, fusion) if row["lead"]}


@st.cache_data(show_spinner=False)
def _arousal_agreement(model_ids: tuple[str, ...]) -> dict[str, dict]:
    return arousal_agreement(model_ids=model_ids)  # the shipped predictions: fixed for the process


def arousal_frame(cards: list[ModelCard], names: dict[str, str]) -> pd.DataFrame:
    """One row per model: how often it tells excited from calm speech on each corpus it never
    heard, and on average, in percent (``ser.circumplex.arousal_agreement``)."""
    rows = []
    for model_id, r in _arousal_agreement(tuple(card.id for card in cards)).items():
        rows.append({"Model": names.get(model_id, model_id),
                     **{SHORT_CORPUS_NAMES[CORPORA[c].name]: v for c, v in r["corpora"].items()},
                     "On average": r["right"]})
    return _percent(pd.DataFrame(rows))


def left_out_of_warm_up(cards: list[ModelCard]) -> list[ModelCard]:
    """The cards whose warm-up readings were measured but are not used (``ReadingMode.holds``)."""
    return [card for card in cards if card.warmed_up is not None and not card.warmed_up.holds]


def never_warmed_up(cards: list[ModelCard], names: dict[str, str]) -> str:
    """Why the models of ``cards`` (``left_out_of_warm_up``) read each clip as heard after any
    warm-up: on voices they never heard, the case their warm-ups lost most on
    (``ReadingMode.worst_failure``), with each one's accuracy against plain; "" for none."""
    if not cards:
        return ""
    figures, cases = [], []
    for card in cards:
        case, report = card.warmed_up.worst_failure()
        cases.append(FAILURE_CASE_TEXT[case])
        figures.append(f"{names[card.id] + ' ' if len(cards) > 1 else ''}{report['accuracy']:.0%} right "
                       f"against {report['plain_accuracy']:.0%}")
    one = len(cards) == 1
    return (f"{' and '.join(names[c.id] for c in cards)} read{'s' if one else ''} each clip as heard after any "
            f"warm-up: tested on voices {'it' if one else 'they'} never heard, {'its' if one else 'their'} "
            f"warm-ups read a speaker's later clips ({' / '.join(dict.fromkeys(cases))}) worse than reading "
            f"them as heard ({'; '.join(figures)}).")
