"""The reading the app leads with and the headline per reading mode, from the transfer
figures of the cards."""

from dataclasses import replace

import pandas as pd
import pytest

from ser import config
from ser.cards import BackboneInfo, Calibration, ModelCard, ReadingMode
from ser.reports import FUSED, ONE_BY_ONE_TITLE, confidence_table, headlines, lead_id, mode_summary_table


def card(model_id: str, uars: tuple[float, float]) -> ModelCard:
    return ModelCard(id=model_id, name=model_id, labels=list(config.EMOTIONS),
                     backbone=BackboneInfo(model_id, model_id, model_id, "-", 1, 4, 50.0),
                     head={}, training={}, transfer={"a": {"uar": uars[0]}, "b": {"uar": uars[1]}})


def fusion(uars: tuple[float, float]) -> dict:
    return {"models": ["weak", "strong"], "transfer": {"a": {"uar": uars[0]}, "b": {"uar": uars[1]}}}


def test_the_best_single_model_leads_unless_the_fused_verdict_clearly_beats_it():
    cards = [card("weak", (0.2, 0.3)), card("strong", (0.4, 0.5))]
    assert lead_id(cards, None) == "strong"
    assert lead_id(cards, fusion((0.41, 0.5))) == "strong"  # a near tie goes to the single model
    assert lead_id(cards, fusion((0.45, 0.5))) == FUSED


def test_without_transfer_figures_the_ravdess_figure_decides():
    cards = [ModelCard(id=k, name=k, labels=[], backbone=BackboneInfo(k, k, k, "-", 1, 4, 50.0), head={},
                       training={}, speaker_folds={"ravdess_8_class": {"uar": u}})
             for k, u in (("x", 0.3), ("y", 0.6))]
    assert lead_id(cards, None) == "y"


def test_headlines_give_each_mode_its_share_right_its_chance_and_its_lead():
    cards = [card("weak", (0.2, 0.3)), card("strong", (0.4, 0.5))]
    cards = [replace(c, transfer={"ased": {"uar": u}, "emovo": {"uar": u + 0.1}}) for c, u in
             zip(cards, (0.2, 0.4))]
    cards[1] = replace(cards[1], voice=ReadingMode(Calibration(), transfer={"ased": {"uar": 0.6}}))
    fused = {"models": ["weak", "strong"], "transfer": {"ased": {"uar": 0.6}, "emovo": {"uar": 0.7}}}
    rows = headlines(cards, fused)
    assert [(r["mode"], r["model"]) for r in rows] == [
        ("plain", "weak"), ("plain", "strong"), ("plain", FUSED), ("voice", "strong")]
    plain_strong = rows[1]
    assert plain_strong["right"] == pytest.approx(0.45)
    # ASED holds 5 emotions and EMOVO 7: guessing scores the mean of 1/5 and 1/7.
    assert plain_strong["chance"] == pytest.approx((1 / 5 + 1 / 7) / 2)
    assert plain_strong["corpora"]["emovo"] == {"right": pytest.approx(0.5), "chance": pytest.approx(1 / 7)}
    assert [r["lead"] for r in rows] == [False, False, True, True]  # the fused verdict wins by 0.2
    assert rows[3]["chance"] == pytest.approx(1 / 5)


def test_confidence_pools_every_left_out_clip_and_reads_ravdess_new_actors_for_the_plain_reading():
    transfer = {"ased": {"uar": 0.4, "n": 100, "unsure_share": 0.5, "sure_accuracy": 0.8},
                "emovo": {"uar": 0.4, "n": 300, "unsure_share": 0.9, "sure_accuracy": 0.5}}
    folds = {"corpora": {"ravdess": {"n": 50, "unsure_share": 0.3, "sure_accuracy": 0.9, "ece": 0.05}}}
    model = replace(card("m", (0.4, 0.4)), transfer=transfer, speaker_folds=folds,
                    adapted=ReadingMode(Calibration(), transfer={"ased": transfer["ased"]}))
    plain, adapted = confidence_table([model]).to_dict("records")
    # 50 sure clips of ASED right 80 % of the time, 30 of EMOVO right 50 %: 400 clips in all.
    assert plain["unsure, left-out corpora"] == pytest.approx(1 - 80 / 400)
    assert plain["right when sure, left-out corpora"] == pytest.approx((50 * 0.8 + 30 * 0.5) / 80)
    assert plain["unsure, RAVDESS new actors"] == 0.3 and plain["calibration error, RAVDESS new actors"] == 0.05
    assert adapted["mode"] == "Adapted to the setting" and pd.isna(adapted["unsure, RAVDESS new actors"])


def test_the_adapted_readings_heard_clip_by_clip_follow_those_read_at_once():
    def report(uar: float) -> dict:
        return {"uar": uar, "per_class_recall": {"sad": uar / 2}, "ece": 0.1}

    heard = {"transfer": {"ased": report(0.3)}, "one_emotion": {"accuracy": 0.35, "plain_accuracy": 0.36}}
    adapted = ReadingMode(Calibration(), transfer={"ased": report(0.5)},
                          one_emotion={"accuracy": 0.4, "plain_accuracy": 0.4}, one_by_one=heard)
    model = replace(card("m", (0.4, 0.4)), transfer={"ased": report(0.4)}, adapted=adapted)
    rows = mode_summary_table([model]).to_dict("records")
    assert [r["mode"] for r in rows] == ["As heard", "Adapted to the setting", ONE_BY_ONE_TITLE]
    assert [r["UAR"] for r in rows] == [0.4, 0.5, 0.3]
    assert (rows[2]["one-emotion sessions"], rows[2]["same clips, plain"]) == (0.35, 0.36)
    adapted_row = [r for r in headlines([model]) if r["mode"] == "adapted"][0]
    assert adapted_row["right"] == 0.5 and adapted_row["one_by_one"] == 0.3
