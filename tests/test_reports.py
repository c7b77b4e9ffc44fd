"""The reading the app leads with, chosen from the transfer figures of the cards."""

from ser import config
from ser.cards import BackboneInfo, ModelCard
from ser.reports import FUSED, lead_id


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
