"""Resources loaded once per server process and shared by every session, and the names
the audience sees for them."""

from __future__ import annotations

import streamlit as st

from ser import config
from ser.backbones import REGISTRY
from ser.cards import ModelCard
from ser.dataset import DatasetIndex, index_dataset
from ser.inference import FUSED, warm_up
from ser.models import EmotionModel, load_models
from ser.reports import read_fusion

DATASET_INDEX_TTL_S = 300  # re-scan a data folder after this, so added files show up
FUSED_NAME = "All models"


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


@st.cache_resource(show_spinner=False)
def get_fusion() -> dict | None:
    """The fused verdict's stacking weights and transfer figures (``models/fusion.json``)."""
    return read_fusion()


def short_name(card: ModelCard) -> str:
    """A model's name for cards and chart titles, e.g. "Whisper base" (the registry's)."""
    entry = REGISTRY.get(card.backbone.kind)
    return entry.short_name if entry else card.name


def listens_to(card: ModelCard) -> str:
    """What the model hears, in the audience's words (the registry's)."""
    entry = REGISTRY.get(card.backbone.kind)
    return entry.listens_to if entry else card.backbone.name


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
