"""Backbone features of whole clips, computed once and cached on disk.

A cache entry is keyed by the hash of the decoded 16 kHz samples and of the
backbone's identity and parameters, so a changed file or a changed setting never
returns stale features. Entries are plain ``.npy`` (float16) read with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ser import audio as audio_io
from ser import config
from ser.backbones import Backbone


def backbone_key(backbone: Backbone) -> str:
    """Short hash of what determines a backbone's output."""
    identity = {
        "kind": backbone.kind,
        "id": backbone.id,
        "shape": [backbone.n_layers, backbone.dim, backbone.frame_rate_hz],
        "params": getattr(backbone, "params", {}),
    }
    return hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def audio_hash(audio: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()


def cached_extract(backbone: Backbone, audio: np.ndarray, cache_dir: Path | None = None):
    """``backbone.layers(audio)`` through the on-disk cache: float16 ``(n_layers, n_frames, dim)``.

    ``cache_dir`` defaults to ``config.CACHE_DIR``, read at call time so tests can redirect it.
    """
    folder = Path(cache_dir or config.CACHE_DIR) / "features" / backbone_key(backbone)
    path = folder / f"{audio_hash(audio)}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    features = backbone.layers(audio).astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, features, allow_pickle=False)
    tmp.replace(path)  # atomic, so a killed run never leaves a truncated entry
    return features


def load_training_clip(path: str | Path) -> np.ndarray:
    """A data set clip as the models see it: 16 kHz mono, trimmed to its speech.

    An ``AudioError`` names the file: among a thousand clips its message alone is no help.
    """
    try:
        audio = audio_io.load_audio(path)
    except audio_io.AudioError as err:
        raise type(err)(audio_io.message_for(path, err)) from err
    return audio_io.trim_to_speech(audio)


def dataset_statistics(backbone: Backbone, paths, progress: bool = True) -> np.ndarray:
    """Clip statistics of each file in ``paths`` (``onnx_heads.clip_statistics``), float32
    ``(n_clips, n_layers, 2 * dim)``.

    Kept in one ``.npy`` per backbone and list of files (names, sizes and modification
    times, so an edited file misses the cache): reading a few thousand frame files
    back costs minutes for Whisper, the summary a fraction of a second.
    """
    from tqdm import tqdm

    from ser.onnx_heads import clip_statistics

    paths = [str(p) for p in paths]
    listing = "\n".join(f"{p}:{Path(p).stat().st_size}:{Path(p).stat().st_mtime_ns}" for p in paths)
    digest = hashlib.sha1(listing.encode()).hexdigest()[:12]
    path = Path(config.CACHE_DIR) / "statistics" / f"{backbone_key(backbone)}-{digest}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    stats = np.stack([
        clip_statistics(cached_extract(backbone, load_training_clip(p)))
        for p in tqdm(paths, desc=f"{backbone.kind} features", disable=not progress)
    ])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, stats, allow_pickle=False)
    tmp.replace(path)
    return stats
