"""The acted warm-up's per-emotion bias (scripts/enrolment_experiment.py, docs/experiments.md
round 3 section 10): it makes the four prompted clips read as prompted, no more than its L2 allows."""

import importlib.util

import numpy as np

from ser import config

SPEC = importlib.util.spec_from_file_location("enrolment_experiment",
                                              config.PROJECT_DIR / "scripts" / "enrolment_experiment.py")
enrolment = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(enrolment)


def leaning_readings() -> np.ndarray:
    """Four warm-up clips read by a model that leans to disgust (as on TESS), one prompt ahead
    of the others in each: the right emotion second."""
    probs = np.full((4, len(config.EMOTIONS)), 0.02)
    probs[:, config.EMOTIONS.index("disgust")] = 0.6
    for row, k in enumerate(enrolment.PROMPTS):
        probs[row, k] = 0.25
    return probs / probs.sum(1, keepdims=True)


def test_the_bias_makes_the_warm_up_read_as_prompted_and_pulls_the_leaning_class_down():
    probs = leaning_readings()
    assert not (probs.argmax(1) == enrolment.PROMPTS).any()
    bias = enrolment.prompt_bias(probs, enrolment.PROMPTS, l2=0.1)
    assert (enrolment.biased(probs, bias).argmax(1) == enrolment.PROMPTS).all()
    assert bias[config.EMOTIONS.index("disgust")] < 0 < min(bias[list(enrolment.PROMPTS)])


def test_a_stronger_pull_moves_less_and_no_bias_changes_nothing():
    probs = leaning_readings()
    weak, strong = (enrolment.prompt_bias(probs, enrolment.PROMPTS, l2) for l2 in (0.1, 10.0))
    assert np.abs(strong).sum() < np.abs(weak).sum()
    assert np.allclose(enrolment.biased(probs, np.zeros(len(config.EMOTIONS))), probs)
    assert np.allclose(enrolment.biased(probs, weak).sum(1), 1.0)
