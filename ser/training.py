"""Training heads on cached backbone features, and cross-validation by actor.

Features are per-clip arrays ``(n_layers, n_frames, dim)``; labels are emotion
indices into ``config.EMOTIONS``. Everything is seeded: the same inputs give the
same numbers twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ser.evaluation import actor_folds
from ser.heads import EmotionHead, HeadConfig, HeadEnsemble, pool_frames


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    n_members: int = 1  # >1: an ensemble of seeds (costs n times the training)
    seed: int = 0
    min_crop_s: float = 1.2  # random crops of at least this much audio
    time_masks: int = 2  # SpecAugment-style masks over frames
    max_mask_fraction: float = 0.1
    label_smoothing: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def as_tensors(features, pool: int) -> list[torch.Tensor]:
    """Per-clip float32 tensors, frames pooled as the head expects, converted once
    rather than at every step."""
    return [torch.from_numpy(pool_frames(x, pool)) for x in features]


def pad_batch(items) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(L, T_i, D)`` arrays or tensors into ``(B, L, T_max, D)`` float32 and a
    ``(B, T_max)`` mask of real frames."""
    items = [torch.as_tensor(np.asarray(x, dtype=np.float32)) if isinstance(x, np.ndarray) else x
             for x in items]
    n_layers, _, dim = items[0].shape
    t_max = max(x.shape[1] for x in items)
    batch = torch.zeros(len(items), n_layers, t_max, dim)
    mask = torch.zeros(len(items), t_max, dtype=torch.bool)
    for i, x in enumerate(items):
        batch[i, :, : x.shape[1]] = x
        mask[i, : x.shape[1]] = True
    return batch, mask


def augment(x: torch.Tensor, rng: np.random.Generator, cfg: TrainConfig, frame_rate_hz: float):
    """A random crop and SpecAugment-style time masks of one clip ``(L, T, D)``."""
    n_frames = x.shape[1]
    min_frames = int(cfg.min_crop_s * frame_rate_hz)
    if n_frames > min_frames:
        length = int(rng.integers(min_frames, n_frames + 1))
        start = int(rng.integers(0, n_frames - length + 1))
        x = x[:, start : start + length]
    x = x.clone()
    for _ in range(cfg.time_masks):
        width = int(rng.integers(0, int(cfg.max_mask_fraction * x.shape[1]) + 1))
        start = int(rng.integers(0, x.shape[1] - width + 1))
        x[:, start : start + width] = 0.0
    return x


def feature_stats(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of every layer's feature dimensions over all frames, each ``(L, D)``."""
    total = sum(np.asarray(f, dtype=np.float64).sum(axis=1) for f in features)
    total_sq = sum(np.square(np.asarray(f, dtype=np.float64)).sum(axis=1) for f in features)
    n = sum(f.shape[1] for f in features)
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0)) + 1e-5
    return torch.from_numpy(mean).float(), torch.from_numpy(std).float()


def fit_head(features, labels, head_config: HeadConfig, cfg: TrainConfig, seed: int,
             frame_rate_hz: float) -> EmotionHead:
    """Train one head; returns it in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = EmotionHead(head_config)
    head.feature_mean, head.feature_std = feature_stats(features)
    features = as_tensors(features, head_config.pool)
    frame_rate_hz /= head_config.pool
    optimiser = torch.optim.AdamW(head.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil(len(features) / cfg.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.learning_rate, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    head.train()
    for _ in range(cfg.epochs):
        order = rng.permutation(len(features))
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            batch, mask = pad_batch([augment(features[j], rng, cfg, frame_rate_hz) for j in idx])
            loss = loss_fn(head(batch, mask), labels[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return head.eval()


def fit_ensemble(features, labels, head_config: HeadConfig, cfg: TrainConfig,
                 frame_rate_hz: float) -> HeadEnsemble:
    ensemble = HeadEnsemble(head_config, cfg.n_members)
    for k in range(cfg.n_members):
        ensemble.members[k] = fit_head(features, labels, head_config, cfg, cfg.seed + k, frame_rate_hz)
    return ensemble.eval()


def predict_proba(model: nn.Module, features: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``(n_clips, n_classes)`` of a head or an ensemble."""
    features = as_tensors(features, model.config.pool)
    out = []
    with torch.inference_mode():
        for i in range(0, len(features), batch_size):
            batch, mask = pad_batch(features[i : i + batch_size])
            scores = model(batch, mask)
            out.append(scores if isinstance(model, HeadEnsemble) else torch.softmax(scores, -1))
    return torch.cat(out).numpy()


def cross_validate(features, labels, actors, head_config: HeadConfig, cfg: TrainConfig,
                   frame_rate_hz: float, progress: bool = True) -> np.ndarray:
    """Out-of-fold probabilities ``(n_clips, n_classes)``: each clip is scored by an
    ensemble that never heard its actor."""
    from tqdm import tqdm

    labels = np.asarray(labels)
    probs = np.zeros((len(features), head_config.n_classes), np.float32)
    folds = actor_folds(actors)
    for test in tqdm(folds, desc="folds by actor", disable=not progress):
        train = np.setdiff1d(np.arange(len(features)), test)
        model = fit_ensemble([features[i] for i in train], labels[train], head_config, cfg, frame_rate_hz)
        probs[test] = predict_proba(model, [features[i] for i in test])
    return probs
