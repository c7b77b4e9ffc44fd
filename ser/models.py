"""A trained emotion model: a backbone, a head, and the card that describes them.

On disk a model is a folder ``models/<id>/`` with ``head.safetensors`` (weights
only: loading cannot run code) and ``card.json`` (``ser.cards.ModelCard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ser import config
from ser.backbones import Backbone, get_backbone
from ser.cards import CardError, ModelCard, model_folders, read_card, write_card
from ser.heads import HeadConfig, HeadEnsemble, clip_statistics

HEAD_FILE = "head.safetensors"
VOICE_HEAD_FILE = "voice_head.safetensors"  # the head calibrated to a speaker's voice


class ModelError(RuntimeError):
    """A model folder that cannot be loaded; the message says which and why."""


@dataclass
class EmotionModel:
    card: ModelCard
    head: HeadEnsemble
    backbone: Backbone
    voice_head: HeadEnsemble | None = None  # reads statistics minus the speaker's mean

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def labels(self) -> list[str]:
        return self.card.labels

    @property
    def name(self) -> str:
        return self.card.name

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """Backbone features of 16 kHz audio: ``(n_layers, n_frames, dim)``."""
        return self.backbone.layers(audio)

    def predict_frames(self, frames: np.ndarray, voice: np.ndarray | None = None) -> np.ndarray:
        """Calibrated class probabilities ``(n_classes,)`` of frames ``(n_layers, n_frames, dim)``.

        ``voice``: the speaker's mean clip statistics ``(n_layers, 2 * dim)``
        (``voice_statistics``); given, the voice-calibrated head reads the clip relative to it.
        """
        stats = clip_statistics(frames)
        if voice is not None and self.voice_head is not None:
            return self.voice_head.predict_proba(stats - voice)
        return self.head.predict_proba(stats)

    def predict_proba(self, audio: np.ndarray, voice: np.ndarray | None = None) -> np.ndarray:
        """Calibrated class probabilities ``(n_classes,)`` of 16 kHz mono audio, in ``labels`` order."""
        return self.predict_frames(self.frames(audio), voice)

    def voice_statistics(self, pieces: list[np.ndarray]) -> np.ndarray:
        """A speaker's mean clip statistics ``(n_layers, 2 * dim)`` over pieces of their speech
        (``speakers.reference_windows``)."""
        return np.mean([clip_statistics(self.frames(p)) for p in pieces], axis=0)


def save_model(folder: Path, head: HeadEnsemble, card: ModelCard,
               voice_head: HeadEnsemble | None = None) -> Path:
    """Write ``head.safetensors`` (and ``voice_head.safetensors``) and ``card.json`` into
    ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for module, name in ((head, HEAD_FILE), (voice_head, VOICE_HEAD_FILE)):
        if module is not None:
            state = {k: v.contiguous() for k, v in module.state_dict().items()}
            save_file(state, folder / name, metadata={"model_id": card.id})
    write_card(folder, card)
    return folder


def _load_head(path: Path, card: ModelCard) -> HeadEnsemble:
    head = HeadEnsemble(HeadConfig(**card.head["config"]), card.head["n_members"])
    # strict: a head whose tensors do not match its card must not load half-initialised
    head.load_state_dict(load_file(path), strict=True)
    return head.eval()


def load_model(folder: Path) -> EmotionModel:
    """Load one model folder; raises ``ModelError`` with a clear reason."""
    folder = Path(folder)
    try:
        card = read_card(folder)
    except CardError as err:
        raise ModelError(str(err)) from err
    try:
        head = _load_head(folder / HEAD_FILE, card)
        voice_head = _load_head(folder / VOICE_HEAD_FILE, card) if card.voice else None
    except (OSError, SafetensorError, KeyError, TypeError, RuntimeError) as err:
        raise ModelError(f"{folder}: the head does not load ({type(err).__name__}: {err})") from err
    try:
        backbone = get_backbone(card.backbone.kind, card.backbone.checkpoint)
    except (OSError, ImportError, RuntimeError, ValueError, KeyError) as err:  # missing package or weights
        raise ModelError(f"{folder}: its backbone does not load ({type(err).__name__}: {err})") from err
    return EmotionModel(card, head, backbone, voice_head)


def load_models(models_dir: Path = config.MODELS_DIR) -> list[EmotionModel]:
    """Every model under ``models_dir``, in display order."""
    return [load_model(folder) for folder in model_folders(models_dir)]
