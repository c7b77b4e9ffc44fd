"""Whisper encoders (tiny.en, base) in PyTorch through transformers: for training, and
to export the ONNX encoder that inference runs (``whisper_onnx``).

``_encoder_state_dict`` renames the bundled CTranslate2 weights (``whisper_common``)
onto transformers' ``WhisperEncoder``.

Whisper was trained on 30 s windows. By default a clip is encoded at its own
length instead (the positional embedding sliced to the clip), which is ~7x less
work for a 4 s clip; ``pad_to_30s=True`` gives the original behaviour. Either way
audio longer than 30 s is encoded in consecutive 30 s chunks.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser.backbones.ct2_checkpoint import Ct2Model
from ser.backbones.whisper_common import (
    FRAME_RATE_HZ,
    MAX_POSITIONS,
    N_MELS,
    VARIANTS,
    WhisperVariant,
    audio_chunks,
    encoder_frames,
    log_mel,
    read_bundled_checkpoint,
)
from ser.onnx_export import export_onnx

CT2_SPEC = "WhisperSpec"
EXPORT_MEL_FRAMES = 400  # the example input's length (4 s); the export's length is dynamic

log = logging.getLogger(__name__)


class WhisperEncoderBackbone:
    """Hidden states of a Whisper encoder: ``n_layers + 1`` layers of ``d_model`` dims at 50 Hz.

    Layer 0 is the convolutional stem plus positional embedding, the others the
    transformer blocks, the last with the final layer norm applied (transformers'
    ``hidden_states`` convention).
    """

    kind = "whisper"
    frame_rate_hz = FRAME_RATE_HZ

    def __init__(self, variant: str = "tiny.en", pad_to_30s: bool = False):
        spec = VARIANTS[variant]
        self.id, self.name, self.source = spec.model_id, spec.name, spec.source
        self.n_layers, self.dim = spec.n_layers + 1, spec.d_model
        self.pad_to_30s = pad_to_30s
        self.params = {"variant": variant, "pad_to_30s": pad_to_30s}  # part of the feature-cache key
        self.model = load_encoder(read_bundled_checkpoint(spec), spec)

    def layers(self, audio: np.ndarray) -> np.ndarray:
        """Features of ``audio`` (16 kHz mono, shape ``(n_samples,)``).

        Returns float32 of shape ``(n_layers, ceil(n_samples / 320), dim)``.
        """
        with torch.inference_mode():
            states = [self._encode_chunk(chunk) for chunk in audio_chunks(audio)]
        return torch.cat(states, dim=1).numpy()

    def _encode_chunk(self, audio: np.ndarray) -> torch.Tensor:
        """``(n_layers, ceil(n_samples / 320), dim)`` hidden states of at most 30 s of audio."""
        mel = torch.from_numpy(log_mel(audio, self.pad_to_30s))
        return encoder_hidden_states(self.model, mel)[:, 0, : encoder_frames(audio.size)]


def whisper_config(spec: WhisperVariant) -> WhisperConfig:
    """transformers' config of the variant, as far as the encoder reads it."""
    return WhisperConfig(
        vocab_size=spec.vocab_size,
        num_mel_bins=N_MELS,
        d_model=spec.d_model,
        encoder_layers=spec.n_layers,
        encoder_attention_heads=spec.n_heads,
        encoder_ffn_dim=spec.ffn_dim,
        decoder_layers=spec.n_layers,
        decoder_attention_heads=spec.n_heads,
        decoder_ffn_dim=spec.ffn_dim,
        max_source_positions=MAX_POSITIONS,
        activation_function="gelu",
    )


def load_encoder(checkpoint: Ct2Model, spec: WhisperVariant) -> WhisperEncoder:
    """A float32 ``WhisperEncoder`` in eval mode holding the weights of ``checkpoint``."""
    if checkpoint.spec != CT2_SPEC:
        raise ValueError(f"{spec.model_id}: expected a {CT2_SPEC}, found {checkpoint.spec}")
    heads = int(checkpoint.variables["encoder/num_heads"])
    if heads != spec.n_heads:
        raise ValueError(f"{spec.model_id}: encoder has {heads} heads, expected {spec.n_heads}")

    encoder = WhisperEncoder(whisper_config(spec))
    encoder.load_state_dict(_encoder_state_dict(checkpoint.variables, spec.n_layers), strict=True)
    return encoder.float().eval()


def encoder_hidden_states(encoder: WhisperEncoder, mel: torch.Tensor) -> torch.Tensor:
    """All hidden states for log-mel ``mel`` of shape ``(batch, 80, 2 * T)``, T <= 1500.

    Returns ``(n_layers + 1, batch, T, d_model)``. This is ``WhisperEncoder.forward``
    without its demand for exactly 3000 mel frames: the positional embedding is
    cut to T. Dropout and layer drop are left out because tiny.en sets them to 0.
    """
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).transpose(1, 2)
    n_frames = x.shape[1]
    if n_frames > encoder.embed_positions.num_embeddings:
        raise ValueError(f"{n_frames} frames exceed Whisper's {encoder.embed_positions.num_embeddings} positions")
    x = x + encoder.embed_positions.weight[:n_frames]

    states = [x]
    for layer in encoder.layers:
        x = layer(x, None)
        states.append(x)
    states[-1] = encoder.layer_norm(x)
    return torch.stack(states)


def _encoder_state_dict(variables: dict[str, np.ndarray], n_layers: int) -> dict[str, torch.Tensor]:
    """``WhisperEncoder`` state_dict (float32) from CTranslate2 ``encoder/...`` variables.

    CTranslate2 fuses each self-attention's q, k and v projections into one
    ``(3 * d_model, d_model)`` linear; it is split back here. The fused bias has
    zeros in the k slice (Whisper's key projection has no bias) and is dropped.
    Every tensor under ``encoder/`` must be used, so a different architecture fails
    here rather than loading silently.
    """
    used = set()

    def tensor(name: str) -> torch.Tensor:
        used.add(f"encoder/{name}")
        array = variables[f"encoder/{name}"]
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"encoder/{name} is {array.dtype}; quantized checkpoints are not supported")
        return torch.from_numpy(array.astype(np.float32))

    state = {
        "conv1.weight": tensor("conv1/weight"),
        "conv1.bias": tensor("conv1/bias"),
        "conv2.weight": tensor("conv2/weight"),
        "conv2.bias": tensor("conv2/bias"),
        "embed_positions.weight": tensor("position_encodings/encodings"),
        "layer_norm.weight": tensor("layer_norm/gamma"),
        "layer_norm.bias": tensor("layer_norm/beta"),
    }
    for i in range(n_layers):
        ct2, hf = f"layer_{i}", f"layers.{i}"
        q_weight, k_weight, v_weight = tensor(f"{ct2}/self_attention/linear_0/weight").chunk(3)
        q_bias, _, v_bias = tensor(f"{ct2}/self_attention/linear_0/bias").chunk(3)
        state |= {
            f"{hf}.self_attn.q_proj.weight": q_weight,
            f"{hf}.self_attn.q_proj.bias": q_bias,
            f"{hf}.self_attn.k_proj.weight": k_weight,
            f"{hf}.self_attn.v_proj.weight": v_weight,
            f"{hf}.self_attn.v_proj.bias": v_bias,
            f"{hf}.self_attn.out_proj.weight": tensor(f"{ct2}/self_attention/linear_1/weight"),
            f"{hf}.self_attn.out_proj.bias": tensor(f"{ct2}/self_attention/linear_1/bias"),
            f"{hf}.self_attn_layer_norm.weight": tensor(f"{ct2}/self_attention/layer_norm/gamma"),
            f"{hf}.self_attn_layer_norm.bias": tensor(f"{ct2}/self_attention/layer_norm/beta"),
            f"{hf}.fc1.weight": tensor(f"{ct2}/ffn/linear_0/weight"),
            f"{hf}.fc1.bias": tensor(f"{ct2}/ffn/linear_0/bias"),
            f"{hf}.fc2.weight": tensor(f"{ct2}/ffn/linear_1/weight"),
            f"{hf}.fc2.bias": tensor(f"{ct2}/ffn/linear_1/bias"),
            f"{hf}.final_layer_norm.weight": tensor(f"{ct2}/ffn/layer_norm/gamma"),
            f"{hf}.final_layer_norm.bias": tensor(f"{ct2}/ffn/layer_norm/beta"),
        }

    unused = {name for name, array in variables.items() if name.startswith("encoder/") and array.ndim} - used
    if unused:
        raise ValueError(f"checkpoint tensors with no place in WhisperEncoder: {sorted(unused)}")
    return state


class _HiddenStates(torch.nn.Module):
    """``encoder_hidden_states`` of one log-mel ``(1, 80, 2 * T)`` -> ``(n_layers + 1, T, d_model)``:
    the encoder in the form the ONNX exporter takes."""

    def __init__(self, encoder: WhisperEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return encoder_hidden_states(self.encoder, mel)[:, 0]


def export_encoder_onnx(variant: str, path: Path) -> Path:
    """Export ``variant``'s encoder, built from its bundled checkpoint as ``WhisperEncoderBackbone``
    builds it, to ONNX at ``path``: input ``mel`` float32 ``(1, 80, 2 * T)``, output
    ``hidden_states`` float32 ``(n_layers + 1, T, d_model)``, T from 1 to 1500."""
    spec = VARIANTS[variant]
    log.warning("exporting the %s encoder to ONNX Runtime (once per checkpoint): %s", spec.model_id, path)
    n_frames = torch.export.Dim("n_frames", min=1, max=MAX_POSITIONS)
    module = _HiddenStates(load_encoder(read_bundled_checkpoint(spec), spec))
    return export_onnx(module, torch.zeros(1, N_MELS, EXPORT_MEL_FRAMES), {2: 2 * n_frames}, path,
                       "mel", "hidden_states", {"model_id": spec.model_id, "checkpoint_sha256": spec.sha256})
