"""Training heads on clip statistics, and cross-validation over any folds.

Inputs are clip statistics ``(n_clips, n_layers, 2 * dim)`` (``onnx_heads.clip_statistics``),
labels as indices into ``config.EMOTIONS`` and a boolean ``allowed`` mask
``(n_clips, n_classes)``: the classes a clip's corpus can name. Logits outside the
mask are ignored in the loss, so a corpus without "calm" or "disgust" never teaches
the model that its clips are not calm or not disgusted (``labels.allowed_mask``).
Everything is seeded: the same inputs give the same numbers twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from ser.heads import EmotionHead, HeadConfig, HeadEnsemble


@dataclass(frozen=True)
class TrainConfig:
    # 30 epochs of 256 rather than round 2's 40 of 128: one Whisper-base head on 8,000 clips
    # trains in 20 s instead of 36 s, which six corpora and three modes need on 2 cores, and
    # reads left-out corpora as well (docs/experiments.md, round 3, section 6).
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    n_members: int = 3  # an ensemble of seeds: steadier than one head
    # Seeds per head in cross-validation: a fold trains a head for each mode, so three seeds
    # there would triple the training time (about an hour for Whisper base on 2 cores).
    cv_members: int = 1
    seed: int = 0
    label_smoothing: float = 0.1
    balance_corpora: bool = True  # each corpus weighs the same in the loss, whatever its size
    # Augmented copies of every clip beside it in the plain head's training set
    # (``featurestore.augmented_statistics``): 0 in the shipped recipe.
    augmented_copies: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def sample_weights(corpora: np.ndarray, balance: bool) -> np.ndarray:
    """Per-clip loss weights ``(n_clips,)`` with mean 1: each corpus's total weight in
    proportion to its ``Corpus.weight`` (1 for most), whatever its size."""
    from ser.corpora import CORPORA

    corpora = np.asarray(corpora)
    if not balance:
        return np.ones(len(corpora), np.float32)
    names, inverse, counts = np.unique(corpora, return_inverse=True, return_counts=True)
    share = np.array([CORPORA[n].weight if n in CORPORA else 1.0 for n in names])
    weights = share[inverse] / counts[inverse]
    return (weights * len(corpora) / weights.sum()).astype(np.float32)


def standardiser(stats: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of each layer's statistics over clips, each ``(L, 2D)``."""
    stats = np.asarray(stats, dtype=np.float64)
    return (torch.from_numpy(stats.mean(0)).float(),
            torch.from_numpy(stats.std(0) + 1e-5).float())


def masked_loss(logits, labels, allowed, weights, smoothing: float) -> torch.Tensor:
    """Weighted cross-entropy over each clip's allowed classes, label smoothing spread over
    those classes only."""
    log_probs = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), -1)
    log_probs = log_probs.masked_fill(~allowed, 0.0)
    target = allowed.float() * (smoothing / allowed.sum(-1, keepdim=True))
    target = target + (1 - smoothing) * nn.functional.one_hot(labels, logits.shape[-1])
    return (-(target * log_probs).sum(-1) * weights).mean()


def fit_head(stats, labels, allowed, weights, head_config: HeadConfig, cfg: TrainConfig,
             seed: int) -> EmotionHead:
    """Train one head; returns it in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = EmotionHead(head_config)
    mean, std = standardiser(stats)
    # Standardised once here rather than at every step (the head's buffers stay at the
    # identity while it trains, and take the moments after): a step on Whisper-base
    # statistics is bound by memory traffic, not arithmetic.
    x = (torch.as_tensor(np.asarray(stats, np.float32)) - mean) / std
    y = torch.tensor(np.asarray(labels), dtype=torch.long)
    mask = torch.as_tensor(np.asarray(allowed, bool))
    w = torch.as_tensor(np.asarray(weights, np.float32))
    optimiser = torch.optim.AdamW(head.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil(len(x) / cfg.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.learning_rate, total_steps=steps)
    head.train()
    for _ in range(cfg.epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(order), cfg.batch_size):
            idx = torch.as_tensor(order[i : i + cfg.batch_size])
            loss = masked_loss(head(x[idx]), y[idx], mask[idx], w[idx], cfg.label_smoothing)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    head.stat_mean, head.stat_std = mean, std
    return head.eval()


def fit_ensemble(stats, labels, allowed, corpora, head_config: HeadConfig,
                 cfg: TrainConfig) -> HeadEnsemble:
    """``cfg.n_members`` heads with seeds ``cfg.seed``, ``cfg.seed + 1``, …"""
    weights = sample_weights(corpora, cfg.balance_corpora)
    ensemble = HeadEnsemble(head_config, cfg.n_members)
    for k in range(cfg.n_members):
        ensemble.members[k] = fit_head(stats, labels, allowed, weights, head_config, cfg, cfg.seed + k)
    return ensemble.eval()


def with_copies(stats: np.ndarray, copies, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The clips ``rows`` (indices) of ``stats`` ``(n_clips, L, 2D)`` followed by their augmented
    ``copies`` (arrays shaped as ``stats``), and for each row of the result the index of the
    clip it came from (its label, mask and corpus). Copies come only with their own clips,
    so no copy of a held-out clip is ever trained on."""
    rows = np.asarray(rows)
    if not len(copies):
        return stats[rows], rows
    return np.concatenate([stats[rows]] + [copy[rows] for copy in copies]), np.tile(rows, 1 + len(copies))


def cross_validate(stats, labels, allowed, corpora, folds: list[np.ndarray],
                   head_config: HeadConfig, cfg: TrainConfig, copies=()) -> np.ndarray:
    """Out-of-fold probabilities ``(n_clips, n_classes)``: each fold's clips are scored by
    an ensemble trained on every clip outside that fold (and those clips' augmented
    ``copies``, see ``with_copies``). Clips in no fold stay NaN."""
    stats, labels = np.asarray(stats), np.asarray(labels)
    allowed, corpora = np.asarray(allowed), np.asarray(corpora)
    probs = np.full((len(stats), head_config.n_classes), np.nan, np.float32)
    cfg = replace(cfg, n_members=cfg.cv_members)
    for test in folds:
        x, rows = with_copies(stats, copies, np.setdiff1d(np.arange(len(stats)), test))
        model = fit_ensemble(x, labels[rows], allowed[rows], corpora[rows], head_config, cfg)
        probs[test] = model.predict_proba(stats[test])
    return probs
