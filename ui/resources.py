"""Resources loaded once per server process and shared by every session."""

from __future__ import annotations

import streamlit as st

from ser import config
from ser.dataset import DatasetIndex, index_dataset
from ser.inference import warm_up
from ser.models import EmotionModel, load_models

DATASET_INDEX_TTL_S = 300  # re-scan a data folder after this, so added files show up


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
        st.error(f"No trained models were found in `{config.MODELS_DIR}`: each model is a folder "
                 "with `card.json` and `head.safetensors`.")
        st.stop()
    return models


def short_name(card: dict) -> str:
    """A model's name without its head, e.g. "Whisper tiny.en encoder", for chart titles."""
    return card["name"].split(" + ")[0]


def model_names(models: list[EmotionModel]) -> dict[str, str]:
    """Model id -> short display name, plus the fused verdict's name."""
    return {**{m.id: short_name(m.card) for m in models}, "fused": "Fused"}


@st.cache_data(ttl=DATASET_INDEX_TTL_S, show_spinner="Indexing the RAVDESS folder…")
def get_dataset_index(root: str) -> DatasetIndex:
    """``ser.dataset.index_dataset`` of ``root``, cached across reruns and sessions."""
    return index_dataset(root)


def example_clips() -> DatasetIndex:
    """The RAVDESS clips shipped in ``examples/`` (labelled by their file names)."""
    return get_dataset_index(str(config.EXAMPLES_DIR))
