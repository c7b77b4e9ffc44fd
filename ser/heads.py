"""Downstream heads: small PyTorch models from a clip's backbone statistics to emotions,
for training and evaluation; inference runs their ONNX exports (``ser.onnx_heads``).

A clip's frames ``(n_layers, n_frames, dim)`` are summarised per layer by their mean
and standard deviation over time (``onnx_heads.clip_statistics``): ``(n_layers, 2 * dim)``.
The head standardises each layer's statistics with training-set moments, learns a
softmax-weighted sum of layers (SUPERB style) and classifies with a one-hidden-layer
MLP. Pooling first makes training on thousands of clips from several corpora take
seconds on two cores, and lets a speaker's statistics be subtracted
(``ser.speakers``) before the head sees them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ser.onnx_export import export_onnx


@dataclass(frozen=True)
class HeadConfig:
    n_layers: int
    dim: int  # backbone dims; the head's input is 2 * dim per layer (mean and std)
    n_classes: int
    hidden: int = 256
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


class EmotionHead(nn.Module):
    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        width = 2 * config.dim
        self.layer_logits = nn.Parameter(torch.zeros(config.n_layers))
        # Training-set moments of each layer's statistics, saved with the weights:
        # layers differ in scale, so each is standardised before they are mixed.
        self.register_buffer("stat_mean", torch.zeros(config.n_layers, width))
        self.register_buffer("stat_std", torch.ones(config.n_layers, width))
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(width, config.hidden), nn.GELU(),
            nn.Dropout(config.dropout), nn.Linear(config.hidden, config.n_classes),
        )

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of clip statistics ``(B, L, 2D)``."""
        weights = torch.softmax(self.layer_logits, dim=0)
        mixed = torch.einsum("bld,l->bd", (stats - self.stat_mean) / self.stat_std, weights)
        return self.classifier(mixed)

    def layer_weights(self) -> list[float]:
        return torch.softmax(self.layer_logits, 0).tolist()


class HeadEnsemble(nn.Module):
    """Heads trained with different seeds; probabilities are averaged, then sharpened or
    softened by ``temperature`` (fitted on held-out corpora, ``ser.calibration``)."""

    def __init__(self, config: HeadConfig, n_members: int) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(EmotionHead(config) for _ in range(n_members))
        self.register_buffer("temperature", torch.ones(()))

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, n_classes)`` of clip statistics ``(B, L, 2D)``."""
        mean = torch.stack([torch.softmax(h(stats), -1) for h in self.members]).mean(0)
        return torch.softmax(mean.clamp_min(1e-12).log() / self.temperature, -1)

    def predict_proba(self, stats: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_clips, n_classes)`` of statistics ``(n_clips, L, 2D)`` or of one
        clip's ``(L, 2D)`` (then ``(n_classes,)``): one entry point for batches and single clips."""
        stats = np.asarray(stats, dtype=np.float32)
        single = stats.ndim == 2
        with torch.inference_mode():
            probs = self(torch.from_numpy(stats[None] if single else stats)).numpy()
        return probs[0] if single else probs


def export_head_onnx(head: HeadEnsemble, path: Path, metadata: dict[str, str]) -> Path:
    """Write ``head`` as ONNX to ``path``: input ``stats`` float32 ``(batch, n_layers, 2 * dim)``,
    output ``probs`` float32 ``(batch, n_classes)``, any batch size; ``metadata`` goes with it."""
    example = torch.zeros(2, head.config.n_layers, 2 * head.config.dim)  # batch 2: 1 would be fixed
    return export_onnx(head, example, {0: torch.export.Dim("batch")}, path, "stats", "probs", metadata)
