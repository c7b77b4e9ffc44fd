"""Whisper encoders (tiny.en, base) run by ONNX Runtime: inference without PyTorch.

The ONNX file is exported once per checkpoint from the PyTorch encoder
(``whisper.export_encoder_onnx``): by ``scripts/setup.sh`` through
``python -m ser export-onnx``, or on first use when it is missing. Where it cannot be
exported (PyTorch or the exporter missing, the cache not writable),
``whisper_backbone`` runs the PyTorch backbone instead, which computes the same
features.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ser import onnx_runtime
from ser.backbones.whisper_common import (
    FRAME_RATE_HZ,
    VARIANTS,
    audio_chunks,
    encoder_frames,
    log_mel,
    onnx_path,
)

log = logging.getLogger(__name__)


class WhisperOnnxBackbone:
    """Hidden states of a Whisper encoder, as ``whisper.WhisperEncoderBackbone`` gives them
    (``n_layers + 1`` layers of ``d_model`` dims at 50 Hz, same order), from the ONNX
    export at ``path``."""

    kind = "whisper"
    frame_rate_hz = FRAME_RATE_HZ

    def __init__(self, path: Path, variant: str = "tiny.en", pad_to_30s: bool = False):
        spec = VARIANTS[variant]
        self.id, self.name, self.source = spec.model_id, spec.name, spec.source
        self.n_layers, self.dim = spec.n_layers + 1, spec.d_model
        self.pad_to_30s = pad_to_30s
        # The same feature-cache key as the PyTorch backbone: their features agree to 1e-4 of
        # each layer's peak (tests/test_onnx.py), far finer than the float16 the cache stores.
        self.params = {"variant": variant, "pad_to_30s": pad_to_30s}
        self.session = onnx_runtime.session(path)

    def layers(self, audio: np.ndarray) -> np.ndarray:
        """Features of ``audio`` (16 kHz mono, shape ``(n_samples,)``).

        Returns float32 of shape ``(n_layers, ceil(n_samples / 320), dim)``.
        """
        return np.concatenate([self._encode_chunk(chunk) for chunk in audio_chunks(audio)], axis=1)

    def _encode_chunk(self, audio: np.ndarray) -> np.ndarray:
        """``(n_layers, ceil(n_samples / 320), dim)`` hidden states of at most 30 s of audio."""
        (states,) = self.session.run(None, {"mel": log_mel(audio, self.pad_to_30s)})
        return states[:, : encoder_frames(audio.size)]


def ensure_exported(variant: str) -> Path:
    """The ONNX file of ``variant``'s encoder, exported first (with PyTorch) when missing."""
    path = onnx_path(variant)
    if not path.is_file():
        from ser.backbones.whisper import export_encoder_onnx

        export_encoder_onnx(variant, path)
    return path


def whisper_backbone(variant: str = "tiny.en", pad_to_30s: bool = False):
    """The Whisper backbone for inference: ONNX Runtime, exporting the encoder first when
    its ONNX file is missing; the PyTorch backbone when that export fails."""
    try:
        path = ensure_exported(variant)
    except Exception as err:  # noqa: BLE001 -- the exporter fails in many ways; each leaves PyTorch
        log.warning("could not export the Whisper %s encoder to ONNX (%s: %s); running it in PyTorch",
                    variant, type(err).__name__, err)
        from ser.backbones.whisper import WhisperEncoderBackbone

        return WhisperEncoderBackbone(variant, pad_to_30s)
    return WhisperOnnxBackbone(path, variant, pad_to_30s)
