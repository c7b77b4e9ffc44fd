"""Downstream heads: small PyTorch models from backbone frames to emotion logits.

Input is a batch of per-layer frame features ``(batch, n_layers, n_frames, dim)``
with a boolean mask ``(batch, n_frames)`` of real (not padded) frames. The head
learns a softmax-weighted sum of layers (SUPERB style), standardises features with
training-set statistics, applies a small temporal convolution and attentive
statistics pooling, and classifies the pooled vector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class HeadConfig:
    n_layers: int
    dim: int
    n_classes: int
    hidden: int = 128
    kernel_size: int = 5
    dropout: float = 0.3
    utterance_norm: bool = False  # subtract each clip's mean frame (speaker/channel cue)

    def to_dict(self) -> dict:
        return asdict(self)


def masked_mean_std(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean and std over time: x ``(B, T, C)``, weights ``(B, T, 1)`` summing to 1.

    Returns ``(B, 2C)``.
    """
    mean = (x * weights).sum(dim=1)
    var = ((x - mean[:, None]) ** 2 * weights).sum(dim=1)
    return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)


class EmotionHead(nn.Module):
    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.layer_logits = nn.Parameter(torch.zeros(config.n_layers))
        # Training-set feature statistics, saved with the weights.
        self.register_buffer("feature_mean", torch.zeros(config.dim))
        self.register_buffer("feature_std", torch.ones(config.dim))
        self.conv = nn.Sequential(
            nn.Dropout(config.dropout / 2),
            nn.Conv1d(config.dim, config.hidden, config.kernel_size, padding=config.kernel_size // 2),
            nn.GELU(),
            nn.BatchNorm1d(config.hidden),
        )
        self.attention = nn.Sequential(
            nn.Linear(config.hidden, config.hidden // 2), nn.Tanh(), nn.Linear(config.hidden // 2, 1)
        )
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(2 * config.hidden, config.n_classes)
        )

    def mix_layers(self, layers: torch.Tensor) -> torch.Tensor:
        """``(B, L, T, D)`` -> ``(B, T, D)`` by the learned softmax weights over L."""
        weights = torch.softmax(self.layer_logits, dim=0)
        return torch.einsum("bltd,l->btd", layers, weights)

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of layers ``(B, L, T, D)`` with mask ``(B, T)``."""
        x = (self.mix_layers(layers) - self.feature_mean) / self.feature_std
        m = mask[..., None].float()
        if self.config.utterance_norm:
            x = x - (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1.0)
        x = x * m  # padded frames must not leak into the convolution
        h = self.conv(x.transpose(1, 2)).transpose(1, 2)
        scores = self.attention(h).masked_fill(~mask[..., None], float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return self.classifier(masked_mean_std(h, weights))

    def layer_weights(self) -> list[float]:
        return torch.softmax(self.layer_logits, 0).tolist()


class HeadEnsemble(nn.Module):
    """Several heads trained with different seeds; probabilities are averaged."""

    def __init__(self, config: HeadConfig, n_members: int) -> None:
        super().__init__()
        self.members = nn.ModuleList(EmotionHead(config) for _ in range(n_members))

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean class probabilities ``(B, n_classes)``."""
        return torch.stack([torch.softmax(h(layers, mask), -1) for h in self.members]).mean(0)
