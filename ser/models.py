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
from safetensors.torch import load_file, save_file

from ser import config
from ser.backbones import Backbone, get_backbone
from ser.heads import HeadConfig, HeadEnsemble

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
        x = torch.from_numpy(np.asarray(frames, dtype=np.float32))[None]
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


def load_model(folder: Path) -> EmotionModel:
    """Load one model folder; raises ``ModelError`` with a clear reason."""
    folder = Path(folder)
    try:
        card = json.loads((folder / CARD_FILE).read_text())
        state = load_file(folder / HEAD_FILE)
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: not a readable model folder ({err})") from err
    head = HeadEnsemble(HeadConfig(**card["head"]["config"]), card["head"]["n_members"])
    head.load_state_dict(state, strict=True)
    return EmotionModel(card["id"], card, head.eval(), backbone_from_card(card))


def model_folders(models_dir: Path = config.MODELS_DIR) -> list[Path]:
    """Model folders under ``models_dir`` in display order."""
    folders = [p for p in Path(models_dir).glob("*") if (p / CARD_FILE).is_file()]
    rank = {kind: i for i, kind in enumerate(DISPLAY_ORDER)}
    return sorted(folders, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def load_models(models_dir: Path = config.MODELS_DIR) -> list[EmotionModel]:
    """Every model under ``models_dir``, in display order."""
    return [load_model(folder) for folder in model_folders(models_dir)]
