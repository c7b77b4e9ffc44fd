"""A trained emotion model: a backbone, a head, and the card that describes them.

On disk a model is a folder ``models/<id>/`` with ``head.safetensors`` (weights
only: loading cannot run code) and ``card.json`` (labels, backbone and where its
weights came from, head and training settings, training-data hash, the
cross-validation report, data licence).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ser import config
from ser.backbones import Backbone, get_backbone
from ser.heads import HeadConfig, HeadEnsemble, pool_frames

HEAD_FILE = "head.safetensors"
CARD_FILE = "card.json"
# Order in which the app and the CLI show models: hand-crafted first, strongest last.
DISPLAY_ORDER = ("mfcc", "wav2vec2", "wakehubert", "whisper")


class ModelError(RuntimeError):
    """A model folder that cannot be loaded; the message says which and why."""


@dataclass
class EmotionModel:
    id: str
    card: dict
    head: HeadEnsemble
    backbone: Backbone

    @property
    def labels(self) -> list[str]:
        return self.card["labels"]

    @property
    def name(self) -> str:
        return self.card["name"]

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """Backbone features of 16 kHz audio: ``(n_layers, n_frames, dim)``."""
        return self.backbone.layers(audio)

    def predict_frames(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n_classes,)`` of backbone frames ``(n_layers, n_frames, dim)``."""
        x = torch.from_numpy(pool_frames(frames, self.head.config.pool))[None]
        mask = torch.ones(1, x.shape[2], dtype=torch.bool)
        with torch.inference_mode():
            return self.head(x, mask)[0].numpy()

    def predict_proba(self, audio: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n_classes,)`` of 16 kHz mono audio, in ``labels`` order."""
        return self.predict_frames(self.frames(audio))


def backbone_from_card(card: dict) -> Backbone:
    spec = card["backbone"]
    return get_backbone(spec["kind"], spec.get("checkpoint"), **spec.get("params", {}))


def save_model(folder: Path, head: HeadEnsemble, card: dict) -> Path:
    """Write ``head.safetensors`` and ``card.json`` into ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in head.state_dict().items()}
    save_file(state, folder / HEAD_FILE, metadata={"model_id": card["id"]})
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return folder


def read_card(folder: Path) -> dict:
    """The parsed ``card.json`` of a model folder; raises ``ModelError`` with a clear reason."""
    folder = Path(folder)
    try:
        return json.loads((folder / CARD_FILE).read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: not a readable model folder ({err})") from err


def load_model(folder: Path) -> EmotionModel:
    """Load one model folder; raises ``ModelError`` with a clear reason."""
    folder = Path(folder)
    card = read_card(folder)
    try:
        state = load_file(folder / HEAD_FILE)
        head = HeadEnsemble(HeadConfig(**card["head"]["config"]), card["head"]["n_members"])
        # strict: a head whose tensors do not match its card must not load half-initialised
        head.load_state_dict(state, strict=True)
    except (OSError, SafetensorError, KeyError, TypeError, RuntimeError) as err:
        raise ModelError(f"{folder}: the head does not load ({type(err).__name__}: {err})") from err
    try:
        backbone = backbone_from_card(card)
    except (OSError, ImportError, RuntimeError, ValueError, KeyError) as err:  # missing package or weights
        raise ModelError(f"{folder}: its backbone does not load ({type(err).__name__}: {err})") from err
    return EmotionModel(card["id"], card, head.eval(), backbone)


def model_folders(models_dir: Path = config.MODELS_DIR) -> list[Path]:
    """Model folders under ``models_dir`` in display order."""
    folders = [p for p in Path(models_dir).glob("*") if (p / CARD_FILE).is_file()]
    rank = {kind: i for i, kind in enumerate(DISPLAY_ORDER)}
    return sorted(folders, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def read_cards(models_dir: Path = config.MODELS_DIR) -> list[dict]:
    """The cards of every model under ``models_dir``, in display order, without loading
    weights or backbones (for pages that only describe the models)."""
    return [read_card(folder) for folder in model_folders(models_dir)]


def load_models(models_dir: Path = config.MODELS_DIR) -> list[EmotionModel]:
    """Every model under ``models_dir``, in display order."""
    return [load_model(folder) for folder in model_folders(models_dir)]
