"""Resources loaded once per server process and shared by every session, and the names
the audience sees for them."""

from __future__ import annotations

import streamlit as st

from ser import config
from ser.dataset import DatasetIndex, index_dataset
from ser.inference import FUSED, warm_up
from ser.models import EmotionModel, load_models

DATASET_INDEX_TTL_S = 300  # re-scan a data folder after this, so added files show up
# Names short enough for a card or a chart title on a projector (the cards' own names
# carry the head's description, which means nothing to an audience).
SHORT_NAMES = {"mfcc": "MFCC", "wakehubert": "WakeHuBERT", "wav2vec2": "Wav2Vec2", "whisper": "Whisper"}
FUSED_NAME = "All models"
# What each kind of model listens to, in the audience's words.
LISTENS_TO = {
    "mfcc": "the shape of the sound's spectrum, measured by fixed formulas",
    "wakehubert": "sound patterns picked out by a tiny network that imitates HuBERT, a large network "
                  "that taught itself from unlabelled speech",
    "wav2vec2": "sound patterns picked out by a network that taught itself from unlabelled speech",
    "whisper": "the voice as heard by the listening half of Whisper, a speech-to-text model",
}


@st.cache_resource(show_spinner="Loading the emotion models (once per server)…")
def get_models() -> list[EmotionModel]:
    """Every shipped model, loaded once per process and warmed up so that the first
    clip a user analyses is as fast as the rest."""
    models = load_models()
    warm_up(models)
    return models


def require_models() -> list[EmotionModel]:
    """The models; when they cannot be loaded, a clear error on the page and the
    rest of this run stopped (nothing can be analysed without them)."""
    try:
        models = get_models()
    except Exception as err:  # noqa: BLE001 -- a missing package or corrupt file must read as a message
        st.error(f"The emotion models could not be loaded: {err}")
        st.stop()
    if not models:
        st.error("No trained models were found: the studio ships them in its `models/` folder.")
        st.stop()
    return models


def short_name(card: dict) -> str:
    """A model's name for cards and chart titles, e.g. "Whisper"."""
    return SHORT_NAMES.get(card["backbone"]["kind"], card["name"].split(" + ")[0])


def model_names(models: list[EmotionModel]) -> dict[str, str]:
    """Model id -> short display name, plus the fused reading's name."""
    return {**{m.id: short_name(m.card) for m in models}, FUSED: FUSED_NAME}


@st.cache_data(ttl=DATASET_INDEX_TTL_S, show_spinner="Indexing the clips…")
def _dataset_index(root: str) -> DatasetIndex:
    # Only ever called with folders the server names (never a visitor's text), so the
    # cache holds at most two entries and a visitor cannot start a scan of the disk.
    return index_dataset(root)


def dataset_clips() -> DatasetIndex | None:
    """The RAVDESS folder the server was started with (``ser.config.data_dir()``), indexed;
    None when it has none."""
    root = config.data_dir()
    return _dataset_index(str(root)) if root else None


def example_clips() -> DatasetIndex:
    """The RAVDESS clips shipped in ``examples/`` (labelled by their file names)."""
    return _dataset_index(str(config.EXAMPLES_DIR))
