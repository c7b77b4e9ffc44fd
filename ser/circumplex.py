"""Where a reading sits on Russell's circumplex of affect: valence (unpleasant ↔ pleasant)
across, arousal (calm ↔ excited) up, from its probabilities; and how often the models tell
excited from calm speech on corpora they never heard.

Russell (1980, abstract) places eight affect concepts on a circle at 45° steps: pleasure 0°,
excitement 45°, arousal 90°, distress 135°, displeasure 180°, depression 225°, sleepiness
270°, relaxation 315°. Each emotion here sits on the unit circle at the concept nearest its
name (this project's assignment, not Russell's); neutral sits at the centre. A reading's
place is the probability-weighted mean of those points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser import config
from ser.reports import CV_PREDICTIONS_FILE

CITATION = ("Russell JA (1980). A circumplex model of affect. Journal of Personality and Social "
            "Psychology 39(6): 1161-1178. https://doi.org/10.1037/h0077714")
CONCEPT_ANGLES = {"pleasure": 0, "excitement": 45, "arousal": 90, "distress": 135, "displeasure": 180,
                  "depression": 225, "sleepiness": 270, "relaxation": 315}
EMOTION_CONCEPTS = {"happy": "excitement", "surprised": "arousal", "angry": "distress", "fearful": "distress",
                    "disgust": "displeasure", "sad": "depression", "calm": "relaxation"}  # neutral: the centre


def coordinates() -> dict[str, tuple[float, float]]:
    """Emotion -> (valence, arousal) on the unit circle, in ``config.EMOTIONS`` order."""
    points = {}
    for emotion in config.EMOTIONS:
        concept = EMOTION_CONCEPTS.get(emotion)
        angle = np.radians(CONCEPT_ANGLES[concept]) if concept else None
        points[emotion] = (0.0, 0.0) if angle is None else (float(np.cos(angle)), float(np.sin(angle)))
    return points


def position(probs: dict[str, float]) -> tuple[float, float]:
    """A reading's (valence, arousal): its probabilities' weighted mean of the emotions' points."""
    points = coordinates()
    return (sum(p * points[e][0] for e, p in probs.items()), sum(p * points[e][1] for e, p in probs.items()))


def arousal_agreement(models_dir: Path = config.MODELS_DIR, model_ids=config.SHIPPED_MODELS) -> dict[str, dict]:
    """How often each model's leave-one-corpus-out readings (``cv_predictions.csv``) put a clip
    on the right side of calm ↔ excited: per left-out corpus, the mean of the share of excited
    clips read as excited and of calm ones read as calm (guessing: 0.5), and their mean over
    the corpora. Clips whose emotion sits level (neutral, disgust) are left out. A model
    without predictions has no entry."""
    import pandas as pd

    arousal = {e: y for e, (_, y) in coordinates().items()}
    result = {}
    for model_id in model_ids:
        path = Path(models_dir) / model_id / CV_PREDICTIONS_FILE
        if not path.is_file():
            continue
        clips = pd.read_csv(path)
        excited_read = clips[[f"corpus_out:{e}" for e in config.EMOTIONS]].to_numpy() @ \
            np.array([arousal[e] for e in config.EMOTIONS]) > 0
        acted = clips["emotion"].map(arousal).to_numpy()
        corpora = {}
        for corpus in sorted(clips["corpus"].unique()):
            here = (clips["corpus"] == corpus).to_numpy()
            excited, calm = here & (acted > 1e-9), here & (acted < -1e-9)
            corpora[corpus] = float((excited_read[excited].mean() + (~excited_read[calm]).mean()) / 2)
        result[model_id] = {"corpora": corpora, "right": sum(corpora.values()) / len(corpora), "chance": 0.5}
    return result
