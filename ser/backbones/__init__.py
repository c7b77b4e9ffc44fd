"""Upstream feature extractors: 16 kHz mono audio in, per-layer frame features out.

Every backbone answers ``layers(audio)`` with an array of shape
``(n_layers, n_frames, dim)``, float32, at ``frame_rate_hz`` frames per second.
Heads (``ser.heads``) learn a weighted sum over the layer axis, so a backbone
with one output has ``n_layers == 1``.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np


class Backbone(Protocol):
    kind: str  # registry key: "mfcc", "wakehubert", "wav2vec2", "whisper"
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


BACKBONE_KINDS = ("mfcc", "wakehubert", "wav2vec2", "whisper")


def get_backbone(kind: str, checkpoint: str | None = None, pad_to_30s: bool = False) -> Backbone:
    """The backbone of ``kind``, built once per process.

    ``checkpoint`` picks the weights where a kind has a choice (a hub id or a local
    folder for ``wav2vec2``); ``None`` means the kind's default. ``pad_to_30s``
    runs Whisper on 30 s windows as it was trained, at ~10x the cost.
    """
    # One cache key however the caller spells the arguments: lru_cache keys
    # positional and keyword calls apart, which would build a second copy.
    return _build_backbone(kind, checkpoint, pad_to_30s)


@functools.lru_cache(maxsize=8)
def _build_backbone(kind: str, checkpoint: str | None, pad_to_30s: bool) -> Backbone:
    if kind == "mfcc":
        from ser.backbones.mfcc import MfccBackbone

        return MfccBackbone()
    if kind == "wakehubert":
        from ser.backbones.wakehubert import WakeHubertBackbone

        return WakeHubertBackbone()
    if kind == "wav2vec2":
        from ser.backbones.wav2vec2 import Wav2Vec2Backbone

        return Wav2Vec2Backbone(checkpoint) if checkpoint else Wav2Vec2Backbone()
    if kind == "whisper":
        from ser.backbones.whisper import WhisperEncoderBackbone

        return WhisperEncoderBackbone(pad_to_30s=pad_to_30s)
    raise ValueError(f"unknown backbone {kind!r}; choose one of {', '.join(BACKBONE_KINDS)}")
