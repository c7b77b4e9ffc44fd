"""Downstream heads: small PyTorch models from backbone frames to emotion logits.

Input is a batch of per-layer frame features ``(batch, n_layers, n_frames, dim)``
with a boolean mask ``(batch, n_frames)`` of real (not padded) frames. The head
learns a softmax-weighted sum of layers (SUPERB style), standardises features with
training-set statistics, applies a small temporal convolution and attentive
statistics pooling, and classifies the pooled vector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
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
    pool: int = 2  # frames are averaged in groups of this many first (``pool_frames``)

    def to_dict(self) -> dict:
        return asdict(self)


def pool_frames(layers: np.ndarray, pool: int) -> np.ndarray:
    """Average groups of ``pool`` frames: ``(L, T, D)`` -> ``(L, ceil(T / pool), D)`` float32.

    Done once per clip before the head (in training and in inference alike): the
    head's first steps are linear, so pooling first is exact for them and makes
    every training step ``pool`` times cheaper.
    """
    layers = np.asarray(layers, dtype=np.float32)
    n_layers, n_frames, dim = layers.shape
    if pool == 1:
        return layers
    padded = -n_frames % pool
    if padded:  # repeat the last frame so the final group is not diluted by zeros
        layers = np.concatenate([layers, np.repeat(layers[:, -1:], padded, axis=1)], axis=1)
    return layers.reshape(n_layers, -1, pool, dim).mean(axis=2)


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
        # Training-set statistics of each layer, saved with the weights: layers differ in
        # scale, so each is standardised before they are mixed.
        self.register_buffer("feature_mean", torch.zeros(config.n_layers, config.dim))
        self.register_buffer("feature_std", torch.ones(config.n_layers, config.dim))
        # A per-frame projection first keeps the temporal convolution small: most of a
        # step's cost is here, and backbone dims (384 for Whisper) exceed what 8 classes need.
        self.project = nn.Sequential(
            nn.Dropout(config.dropout / 2), nn.Linear(config.dim, config.hidden), nn.GELU()
        )
        self.context = nn.Conv1d(
            config.hidden, config.hidden, config.kernel_size, padding=config.kernel_size // 2
        )
        # Batch statistics over real frames only (see ``forward``), never padding.
        self.norm = nn.BatchNorm1d(config.hidden)
        self.attention = nn.Sequential(
            nn.Linear(config.hidden, config.hidden // 2), nn.Tanh(), nn.Linear(config.hidden // 2, 1)
        )
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(2 * config.hidden, config.n_classes)
        )

    def mix_layers(self, layers: torch.Tensor) -> torch.Tensor:
        """``(B, L, T, D)`` -> ``(B, T, D)``: each layer standardised, then summed with the
        learned softmax weights. Both steps are linear, so they are folded into one
        einsum and the standardised copy of every layer is never materialised."""
        weights = torch.softmax(self.layer_logits, dim=0)[:, None] / self.feature_std  # (L, D)
        offset = (weights * self.feature_mean).sum(0)  # (D,)
        return torch.einsum("bltd,ld->btd", layers, weights) - offset

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of layers ``(B, L, T, D)`` with mask ``(B, T)``."""
        x = self.mix_layers(layers)
        m = mask[..., None].float()
        if self.config.utterance_norm:
            x = x - (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1.0)
        # Padded frames are zeroed before the convolution so they never reach real ones.
        h = self.project(x) * m
        h = nn.functional.gelu(self.context(h.transpose(1, 2)).transpose(1, 2))
        h = h.masked_scatter(mask[..., None], self.norm(h[mask]))
        scores = self.attention(h).masked_fill(~mask[..., None], float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return self.classifier(masked_mean_std(h, weights))

    def layer_weights(self) -> list[float]:
        return torch.softmax(self.layer_logits, 0).tolist()


class HeadEnsemble(nn.Module):
    """Several heads trained with different seeds; probabilities are averaged."""

    def __init__(self, config: HeadConfig, n_members: int) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(EmotionHead(config) for _ in range(n_members))

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean class probabilities ``(B, n_classes)``."""
        return torch.stack([torch.softmax(h(layers, mask), -1) for h in self.members]).mean(0)
