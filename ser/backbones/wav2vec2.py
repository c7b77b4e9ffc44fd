"""Wav2Vec2-family encoders (wav2vec2, HuBERT, WavLM) through transformers.

Loads any checkpoint id or local folder with ``AutoModel``; a user with the
internet gets ``facebook/wav2vec2-base`` by default. Every hidden state is
returned so a head can learn a weighted sum of layers (SUPERB style).
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_CHECKPOINT = "facebook/wav2vec2-base"


class Wav2Vec2Backbone:
    """16 kHz audio -> ``(n_hidden_layers + 1, n_frames, hidden_size)`` at 50 frames/s."""

    kind = "wav2vec2"
    frame_rate_hz = 50.0

    def __init__(self, checkpoint: str = DEFAULT_CHECKPOINT) -> None:
        from transformers import AutoFeatureExtractor, AutoModel

        self.id = str(checkpoint)
        self.model = AutoModel.from_pretrained(checkpoint).eval()
        self.extractor = AutoFeatureExtractor.from_pretrained(checkpoint)
        config = self.model.config
        self.n_layers = config.num_hidden_layers + 1
        self.dim = config.hidden_size
        self.name = f"{config.model_type} encoder ({self.id})"
        self.source = f"transformers AutoModel: {self.id}"

    def layers(self, audio: np.ndarray) -> np.ndarray:
        inputs = self.extractor(audio, sampling_rate=16_000, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(inputs.input_values, output_hidden_states=True)
        return torch.stack(out.hidden_states)[:, 0].float().numpy()
