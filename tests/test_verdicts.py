"""The verdict cards and texts of ui.analysis, and ui.text.plain: what the audience reads."""

from dataclasses import replace

from ser import config
from ser.inference import FUSED, ClipAnalysis, Prediction
from ui.analysis import agreement_text, calibration_lines, known_label_text, readings, verdicts_html
from ui.text import plain

NAMES = {"mfcc": "MFCC", "whisper": "Whisper", FUSED: "All models"}


def prediction(label: str, top: float = 0.7, second: str | None = None, unsure: bool = False,
               mode: str = "plain") -> Prediction:
    rest = [e for e in config.EMOTIONS if e not in (label, second)]
    probs = {e: (1 - top - (0.2 if second else 0)) / len(rest) for e in rest}
    probs[label] = top
    if second:
        probs[second] = 0.2
    return Prediction({e: probs[e] for e in config.EMOTIONS}, unsure=unsure, mode=mode)


def analysis(lead: str = "whisper", fused_mode: str = "plain", **models: Prediction) -> ClipAnalysis:
    return ClipAnalysis(3.0, True, 2.0, models, prediction("angry", 0.6, mode=fused_mode), [], lead)


def test_the_lead_card_comes_first_and_the_fused_reading_is_one_of_the_others():
    clip = analysis(mfcc=prediction("sad"), whisper=prediction("angry", 0.97))
    assert list(readings(clip)) == ["whisper", "mfcc", FUSED]
    cards = verdicts_html(clip, NAMES)
    lead = cards.index("ser-lead")
    assert lead < cards.index("Whisper") < cards.index("MFCC") < cards.index("All models")
    assert cards.count("ser-lead") == 1 and "97% likely" in cards
    assert "1 of the 2 other readings agree with Whisper." == agreement_text(clip, NAMES)


def test_an_unsure_reading_is_a_grey_question_without_a_big_percentage():
    unsure = prediction("angry", 0.28, second="sad", unsure=True)
    clip = analysis(whisper=unsure, mfcc=prediction("sad"))
    cards = verdicts_html(clip, NAMES)
    lead = cards[:cards.index("MFCC")]
    assert "ser-unsure" in lead and "angry or sad?" in lead
    assert "likely" not in lead and "not sure: 28% angry, 20% sad" in lead
    assert "dashed" in lead
    assert agreement_text(clip, NAMES).startswith("Whisper is not sure. ")


def test_a_calibrated_reading_says_so_and_what_it_read_plainly_where_that_differs():
    plain_clip = analysis(whisper=prediction("calm", 0.3, second="sad", unsure=True), mfcc=prediction("sad"))
    heard_plain = {**plain_clip.models, FUSED: plain_clip.fused}
    calibrated = replace(analysis(whisper=prediction("calm", 0.68, mode="voice"),
                                  mfcc=prediction("sad", mode="voice"), fused_mode="voice"),
                         mode="voice", plain=heard_plain)
    lines = calibration_lines(calibrated, "calibrated to your voice (9 s of speech)")
    assert lines["whisper"] == "calibrated to your voice (9 s of speech); before: calm or sad?"
    assert lines["mfcc"] == lines[FUSED] == "calibrated to your voice (9 s of speech)"  # read the same
    cards = verdicts_html(calibrated, NAMES, lines)
    assert cards.count("ser-calibrated") == 3 and "before: calm or sad?" in cards
    # A model whose guard read the clip plain claims no calibration.
    partly = replace(analysis(whisper=prediction("calm", 0.68, mode="adapted"), mfcc=prediction("sad"),
                              fused_mode="mixed"), mode="adapted", plain=heard_plain)
    assert set(calibration_lines(partly, "adapted to this setting (3 clips, 9 s of speech)")) == {
        "whisper", FUSED}
    assert calibration_lines(plain_clip, "calibrated to your voice (9 s of speech)") == {}


def test_names_in_the_cards_are_escaped():
    cards = verdicts_html(analysis(whisper=prediction("sad")), {"whisper": "<b>W</b>"})
    assert "&lt;b&gt;W&lt;/b&gt;" in cards and "<b>W</b>" not in cards


def test_a_known_label_marks_the_lead_reading_right_or_wrong():
    clip = analysis(mfcc=prediction("sad"), whisper=prediction("angry"))
    assert known_label_text(clip, "angry", NAMES) == (
        "**Right**: acted angry, and Whisper says angry. Also right: All models. Wrong: MFCC.")
    assert known_label_text(clip, "sad", NAMES).startswith("**Wrong**: acted sad, but Whisper says angry.")


def test_plain_leaves_names_as_typed():
    assert plain("03-01-05-02-01-01-03.flac") == "03-01-05-02-01-01-03.flac"
    assert plain("**a** [b](c) :red[d] $e$.wav") == "\\*\\*a\\*\\* \\[b\\](c) \\:red\\[d\\] \\$e\\$.wav"
    assert plain("- item.wav") == "\\- item.wav" and plain("1. first.wav") == "1\\. first.wav"


def test_the_warm_up_says_which_takes_were_heard_as_asked():
    import numpy as np

    from ser.modes import WarmUpReading
    from ui.voice import takes_heard

    prompts = tuple(config.EMOTIONS.index(e) for e in config.WARM_UP_PROMPTS)
    takes = np.eye(len(config.EMOTIONS))[list(prompts)]
    reading = WarmUpReading(np.zeros(1), np.ones(1), np.zeros(len(config.EMOTIONS)), takes, prompts)
    assert takes_heard("Whisper", reading) == "Whisper heard all 4 takes as asked."
    takes = takes.copy()
    takes[config.WARM_UP_PROMPTS.index("sad")] = takes[config.WARM_UP_PROMPTS.index("neutral")]
    text = takes_heard("Whisper", replace(reading, takes=takes))
    assert text.startswith("Whisper heard 3 of the 4 takes as asked (said sadly, it sounded neutral)")
