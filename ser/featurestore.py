"""Backbone features of whole clips, computed once and cached on disk.

A cache entry is keyed by the hash of the decoded 16 kHz samples and of the
backbone's identity and parameters, so a changed file or a changed setting never
returns stale features. Entries are plain ``.npy`` (float16) read with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
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
    tmp = _temporary(path)
    np.save(tmp, features, allow_pickle=False)
    tmp.replace(path)  # atomic, so a killed run never leaves a truncated entry
    return features


def _temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: named by the process, so
    two runs filling the same cache at once never rename each other's file away."""
    return path.with_suffix(f".{os.getpid()}.tmp.npy")


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
    from ser.onnx_heads import clip_statistics

    paths = [str(p) for p in paths]
    return _statistics_file(
        _statistics_path(backbone, paths, ""),
        lambda p, i: clip_statistics(cached_extract(backbone, load_training_clip(p))),
        paths, f"{backbone.kind} features", progress)


def augmented_statistics(backbone: Backbone, paths, copy: int, progress: bool = True) -> np.ndarray:
    """Clip statistics of augmented copy number ``copy`` (0, 1, …) of each file in ``paths``:
    the clip through ``augment.random_chain`` (a laptop microphone in a room), seeded by
    ``(config.AUGMENT_SEED, copy, clip index)``, so the same list gives the same copies.
    Float32 ``(n_clips, n_layers, 2 * dim)``, cached as ``dataset_statistics`` is; the
    copies' frames are not kept (they would double the frame cache for one use).
    """
    from ser import augment
    from ser.onnx_heads import clip_statistics

    def statistics(path: str, i: int) -> np.ndarray:
        rng = np.random.default_rng([config.AUGMENT_SEED, copy, i])
        audio, _ = augment.random_chain(load_training_clip(path), rng)
        return clip_statistics(backbone.layers(audio).astype(np.float16))  # as the clean frames are kept

    paths = [str(p) for p in paths]
    return _statistics_file(_statistics_path(backbone, paths, f"-augmented-{config.AUGMENT_SEED}-{copy}"),
                            statistics, paths, f"{backbone.kind} augmented copy {copy + 1}", progress)


def _statistics_path(backbone: Backbone, paths: list[str], variant: str) -> Path:
    listing = "\n".join(f"{p}:{Path(p).stat().st_size}:{Path(p).stat().st_mtime_ns}" for p in paths)
    digest = hashlib.sha1(listing.encode()).hexdigest()[:12]
    return Path(config.CACHE_DIR) / "statistics" / f"{backbone_key(backbone)}{variant}-{digest}.npy"


def _statistics_file(path: Path, statistics, paths: list[str], desc: str, progress: bool) -> np.ndarray:
    """``statistics(path, index)`` of every file, stacked, through the one-file cache at ``path``."""
    from tqdm import tqdm

    if path.is_file():
        return np.load(path, allow_pickle=False)
    stats = np.stack([statistics(p, i) for i, p in enumerate(tqdm(paths, desc=desc, disable=not progress))])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    np.save(tmp, stats, allow_pickle=False)
    tmp.replace(path)
    return stats
