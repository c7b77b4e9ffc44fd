"""Upstream feature extractors: 16 kHz mono audio in, per-layer frame features out.

Every backbone answers ``layers(audio)`` with an array of shape
``(n_layers, n_frames, dim)``, float32, at ``frame_rate_hz`` frames per second.
Heads (``ser.heads``) learn a weighted sum over the layer axis, so a backbone
with one output has ``n_layers == 1``.

To add a backbone: write its class in a module here and add one ``BackboneEntry``
to ``REGISTRY`` (as s3prl registers upstreams). The CLI's choices, the app's
names and order, the benchmarks and the training recipes all read this table.

Inference should need neither PyTorch nor transformers (importing them costs ~3.6 s
per cold start): Whisper's entries build ``whisper_onnx``'s backbone, which runs the
ONNX export of the PyTorch encoder in ``whisper``.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class Backbone(Protocol):
    kind: str  # family: "mfcc", "wakehubert", "wav2vec2", "whisper"
    id: str  # what exactly runs, e.g. "openai/whisper-tiny.en" or a checkpoint path
    name: str  # human-readable, shown in the app
    source: str  # where the weights came from (package, hub id, licence)
    frame_rate_hz: float
    n_layers: int
    dim: int

    def layers(self, audio: np.ndarray) -> np.ndarray:
        """Features of ``audio`` (float32, 16 kHz mono, shape ``(n_samples,)``).

        Returns float32 of shape ``(n_layers, n_frames, dim)``.
        """


@dataclass(frozen=True)
class BackboneEntry:
    """One backbone the project can train a model on."""

    factory: str  # "module:callable" returning a Backbone, imported only when the backbone is built
    model_name: str  # the model's name in the app and the CLI
    short_name: str  # where space is tight (chart panels, narrow cards)
    listens_to: str  # one plain sentence for an audience: what the model hears
    colour: str  # the model's colour in charts that compare models (Okabe-Ito: apart to colour-blind eyes)
    latency_target_ms: float  # per 4 s clip on 2 cores, backbone and head (benchmarks/bench.py)
    params: dict = field(default_factory=dict)  # keyword arguments of the factory
    checkpoint_choice: bool = False  # whether --backbone picks its weights (a hub id or folder)


# Display order is this order: hand-crafted first, strongest representation last.
REGISTRY: dict[str, BackboneEntry] = {
    "mfcc": BackboneEntry(
        "ser.backbones.mfcc:MfccBackbone", "MFCC features", "MFCC",
        "Hand-crafted spectral features (MFCC, log-mel): pitch, loudness and timbre, no learning.",
        "#e69f00", 50.0),
    "wav2vec2": BackboneEntry(
        "ser.backbones.wav2vec2:Wav2Vec2Backbone", "Wav2Vec2", "Wav2Vec2",
        "A self-supervised speech network (Wav2Vec2 family) from the model hub.",
        "#cc79a7", 150.0, checkpoint_choice=True),
    "wakehubert": BackboneEntry(
        "ser.backbones.wakehubert:WakeHubertBackbone", "WakeHuBERT-tiny (HuBERT-distilled)",
        "WakeHuBERT",
        "A tiny network distilled from HuBERT, a self-supervised speech model.", "#009e73", 50.0),
    "whisper-tiny": BackboneEntry(
        "ser.backbones.whisper_onnx:whisper_backbone", "Whisper tiny.en encoder", "Whisper tiny",
        "The encoder of Whisper tiny.en, a speech recogniser trained on English.", "#56b4e9", 150.0,
        params={"variant": "tiny.en", "pad_to_30s": False}),
    "whisper-base": BackboneEntry(
        "ser.backbones.whisper_onnx:whisper_backbone", "Whisper base encoder", "Whisper base",
        "The encoder of Whisper base, a speech recogniser trained on 96 languages.", "#0072b2", 150.0,
        params={"variant": "base", "pad_to_30s": False}),
}
BACKBONE_KINDS = tuple(REGISTRY)


def get_backbone(kind: str, checkpoint: str | None = None) -> Backbone:
    """The backbone registered as ``kind``, built once per process.

    ``checkpoint`` picks the weights where an entry allows it (a hub id or a local
    folder for ``wav2vec2``); ``None`` means the entry's default.
    """
    if kind not in REGISTRY:
        raise ValueError(f"unknown backbone {kind!r}; choose one of {', '.join(BACKBONE_KINDS)}")
    return _build_backbone(kind, checkpoint)


@functools.lru_cache(maxsize=8)
def _build_backbone(kind: str, checkpoint: str | None) -> Backbone:
    entry = REGISTRY[kind]
    module, name = entry.factory.split(":")
    factory = getattr(importlib.import_module(module), name)
    options = dict(entry.params, **({"checkpoint": checkpoint} if checkpoint else {}))
    return factory(**options)
