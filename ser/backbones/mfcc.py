"""Hand-crafted baseline presented through the backbone interface."""

from __future__ import annotations

import numpy as np

from ser import config, features


class MfccBackbone:
    """MFCC + deltas + delta-deltas and log-mel (librosa's definitions, computed by
    ``ser.features`` in numpy), one "layer" of frames."""

    kind = "mfcc"
    id = "librosa-mfcc"
    name = "MFCC + deltas + log-mel (librosa)"
    source = "hand-crafted, no pretrained weights"
    frame_rate_hz = features.FRAME_RATE_HZ
    n_layers = 1
    dim = 3 * config.N_MFCC + config.N_MELS

    def layers(self, audio: np.ndarray) -> np.ndarray:
        """Shape ``(1, n_frames, 3 * N_MFCC + N_MELS)`` at 100 frames/s."""
        mel = features.log_mel(audio)
        cepstra = features.mfcc(mel)
        return np.concatenate([cepstra, features.deltas(cepstra), mel]).T[None].astype(np.float32)
