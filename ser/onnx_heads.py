"""Trained heads at inference, without PyTorch: a clip's statistics, and the heads that
``ser.heads`` trains, run by ONNX Runtime from their exports.

A head's export (``heads.export_head_onnx``) maps clip statistics float32
``(batch, n_layers, 2 * dim)`` to calibrated probabilities ``(batch, n_classes)``, as
``heads.HeadEnsemble`` does. Its metadata records what it was exported from (the
weights file's hash, the head's shape, its temperature), so that ``ser.models`` can
refuse an export that no longer matches the weights or the card beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ser import onnx_runtime


def clip_statistics(frames: np.ndarray) -> np.ndarray:
    """Mean and std over time of each layer: ``(L, T, D)`` -> float32 ``(L, 2 * D)``."""
    frames = np.asarray(frames, dtype=np.float32)
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)], axis=-1)


class OnnxHead:
    """A trained head ensemble run by ONNX Runtime from its export at ``path``."""

    def __init__(self, path: Path) -> None:
        # One thread: a head is a few small matrix products, where a pool only adds hand-offs.
        self.session = onnx_runtime.session(path, threads=1)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    @property
    def temperature(self) -> float:
        """The calibration temperature baked into the export (``HeadEnsemble.temperature``)."""
        return float(self.metadata["temperature"])

    @property
    def shape(self) -> dict:
        """``{"config": HeadConfig dict, "n_members": int}`` of the head that was exported,
        as a model card's ``head`` records them."""
        return json.loads(self.metadata["head"])

    def predict_proba(self, stats: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_clips, n_classes)`` of statistics ``(n_clips, L, 2D)`` or of one
        clip's ``(L, 2D)`` (then ``(n_classes,)``), as ``HeadEnsemble.predict_proba``."""
        stats = np.asarray(stats, dtype=np.float32)
        single = stats.ndim == 2
        (probs,) = self.session.run(None, {"stats": stats[None] if single else stats})
        return probs[0] if single else probs
