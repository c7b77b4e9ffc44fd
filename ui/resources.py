"""Resources loaded once per server process and shared by every session, and the names
the audience sees for them."""

from __future__ import annotations

import threading

import streamlit as st

from ser import config, memory
from ser.backbones import REGISTRY
from ser.cards import ModelCard
from ser.corpora import index_corpora
from ser.dataset import DatasetIndex, index_dataset
from ser.inference import FUSED, prime
from ser.models import EmotionModel, load_models
from ser.reports import read_fusion
from ui.text import without_server_paths

DATASET_INDEX_TTL_S = 300  # re-scan a data folder after this, so added files show up
FUSED_NAME = "All models"
STATUS_KEY = "models-status"  # where the "models loading" notice goes, drawn on every run


class ModelLoader:
    """Every shipped model, loaded and warmed up on a background thread started on creation,
    so pages draw at once and say "loading" where results would go until the models are in."""

    def __init__(self):
        self._done = threading.Event()
        self._models: list[EmotionModel] = []
        self._error: Exception | None = None
        threading.Thread(target=self._load, name="ser-load-models", daemon=True).start()

    def _load(self) -> None:
        try:
            models = load_models()
            prime(models)  # the first clip a user analyses is then as fast as the rest
            self._models = models
        except Exception as err:  # noqa: BLE001 -- shown on the page by require_models
            self._error = err
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        """Whether loading has finished, well or not."""
        return self._done.is_set()

    def wait_done(self) -> None:
        """Return once loading has finished, well or not."""
        self._done.wait()

    def wait(self) -> list[EmotionModel]:
        """The models, once loaded; raises what loading raised."""
        self.wait_done()
        if self._error is not None:
            raise self._error
        return self._models


@st.cache_resource(show_spinner=False)
def model_loader() -> ModelLoader:
    """The process's one loader: the first visit to any page starts it (and sets the process's
    allocator to give freed memory back, ``ser.memory``)."""
    memory.map_large_blocks()
    memory.give_back_every(config.GIVE_BACK_PERIOD_S)
    return ModelLoader()


def models_loaded() -> bool:
    """Whether the models have finished loading (``require_models`` then answers at once)."""
    return model_loader().done


def require_models() -> list[EmotionModel]:
    """The models, waiting for them if they are still loading; when they cannot be loaded,
    a clear error on the page and the rest of this run stopped (nothing can be analysed
    without them)."""
    loader = model_loader()
    try:
        if loader.done:
            models = loader.wait()
        else:
            with st.spinner("Loading the emotion models (once per server)…"):
                models = loader.wait()
    except Exception as err:  # noqa: BLE001 -- a missing package or corrupt file must read as a message
        st.error(f"The emotion models could not be loaded: {without_server_paths(str(err))}")
        st.stop()
    if not models:
        st.error("No trained models were found: the studio ships them in its `models/` folder.")
        st.stop()
    return models


def loading_notice() -> None:
    """While the models load (half a second since inference needs no librosa; longer when many
    visitors arrive at once): a spinner saying so, and the page waits for them.

    It used to draw the page at once and poll for the models in a fragment that reran the
    whole page when they came in; a visitor's click on another page in between was lost
    (3 first clicks of 6 with six visitors arriving at once), as Streamlit merges a pending
    rerun with a newer one keeping the newer one's page, and both the fragment's timer and
    its final st.rerun() asked for the old page.

    Its container is drawn whether or not they are loading: were the page's elements to
    move up when the notice goes, the browser would re-create the live stream's component
    below it.
    """
    with st.container(key=STATUS_KEY):
        if not models_loaded():
            with st.spinner("Loading the emotion models (once per server)…"):
                model_loader().wait_done()  # require_models says why, where they failed


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


def familiar_note(card: ModelCard) -> str:
    """How a card's confidence is rescaled for a clip that sounds like its training corpora,
    as a clause that follows the rescaling for corpora it never heard; empty without one."""
    if not card.familiar:
        return ""
    return (", or, for a clip that sounds like the corpora it learnt on, on their new speakers "
            f"(temperature {card.familiar.calibration.temperature:.2f})")


def card_names(cards: list[ModelCard]) -> dict[str, str]:
    """Model id -> short display name, plus the fused reading's name."""
    return {**{card.id: short_name(card) for card in cards}, FUSED: FUSED_NAME}


def model_names(models: list[EmotionModel]) -> dict[str, str]:
    """``card_names`` of loaded models."""
    return card_names([m.card for m in models])


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


@st.cache_data(ttl=DATASET_INDEX_TTL_S, show_spinner="Indexing the corpora…")
def _corpora_summary(root: str) -> dict[str, dict]:
    # As _dataset_index: only ever the folder the server names.
    try:
        clips = index_corpora(root).clips
    except (OSError, ValueError):  # a folder without any known corpus lists none
        return {}
    return {corpus: {"clips here": len(group), "speakers": group["speaker"].nunique()}
            for corpus, group in clips.groupby("corpus")}


def corpora_summary() -> dict[str, dict]:
    """Corpus id -> its clips and speakers in the folder of corpora the server was started with
    (``ser.config.corpora_dir()``); empty when it has none."""
    root = config.corpora_dir()
    return _corpora_summary(str(root)) if root else {}


def example_clips() -> DatasetIndex:
    """The RAVDESS clips shipped in ``examples/`` (labelled by their file names)."""
    return _dataset_index(str(config.EXAMPLES_DIR))
