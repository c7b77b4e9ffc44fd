"""A trained emotion model: a backbone, a head, and the card that describes them.

On disk a model is a folder ``models/<id>/`` with ``head.safetensors`` (the trained
weights, for training and evaluation in PyTorch; weights only: loading cannot run
code), ``head.onnx`` (the same head exported for inference, which runs it with ONNX
Runtime and never imports PyTorch), the same pair for each reading mode's head
(``ser.modes``: ``adapted_head``, ``voice_head``) with the adapted mode's
``setting_prior.npz``, and ``card.json`` (``ser.cards.ModelCard``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ser import calibration, config, familiarity
from ser.backbones import Backbone, get_backbone
from ser.cards import Calibration, CardError, ModelCard, model_folders, read_card, write_card
from ser.modes import ADAPTED, PLAIN, VOICE, WARMED_UP, SettingPrior, biased
from ser.onnx_heads import OnnxHead, clip_statistics

if TYPE_CHECKING:  # training and exporting need torch; loading for inference does not
    from ser.heads import HeadEnsemble

HEAD_FILE = "head.safetensors"
ADAPTED_HEAD_FILE = "adapted_head.safetensors"  # reads statistics normalised by their setting's
VOICE_HEAD_FILE = "voice_head.safetensors"  # reads statistics minus the speaker's plain voice
SETTING_PRIOR_FILE = "setting_prior.npz"  # modes.SettingPrior: a setting before any of it is heard
FAMILIARITY_FILE = "familiarity.npz"  # familiarity.Familiarity: what the training corpora sound like
MODE_HEAD_FILES = {ADAPTED: ADAPTED_HEAD_FILE, VOICE: VOICE_HEAD_FILE}
EXPORT_HINT = "run `python -m ser export-onnx --heads`"


class ModelError(RuntimeError):
    """A model folder that cannot be loaded; the message says which and why."""


class Head(Protocol):
    """What inference asks of a head: ``ser.onnx_heads.OnnxHead`` when loaded from disk,
    ``ser.heads.HeadEnsemble`` straight from training."""

    def predict_proba(self, stats: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_classes,)`` of one clip's statistics ``(n_layers, 2 * dim)``."""


@dataclass
class EmotionModel:
    card: ModelCard
    head: Head
    backbone: Backbone
    voice_head: Head | None = None  # reads statistics minus the speaker's plain voice
    adapted_head: Head | None = None  # reads statistics z-normalised by their setting's
    setting_prior: SettingPrior | None = None  # what the adapted head assumes before a setting is heard
    familiarity: familiarity.Familiarity | None = None  # with card.familiar: which calibration a clip gets

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def labels(self) -> list[str]:
        return self.card.labels

    @property
    def name(self) -> str:
        return self.card.name

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """Backbone features of 16 kHz audio: ``(n_layers, n_frames, dim)``."""
        return self.backbone.layers(audio)

    @property
    def pieces(self) -> tuple[int, int] | None:
        """How the backbone hears a long clip (``config.BACKBONE_PIECES``): (piece length, audio
        heard either side) in samples; None when it hears the clip whole."""
        length_s, context_s = config.BACKBONE_PIECES.get(self.backbone.kind, (None, 0.0))
        return None if length_s is None else (int(length_s * config.SAMPLE_RATE),
                                              int(context_s * config.SAMPLE_RATE))

    def frames_of_piece(self, audio: np.ndarray, skip: int, keep: int | None) -> np.ndarray:
        """The frames of ``audio[skip:skip + keep]`` (to the end when ``keep`` is None), computed
        over the whole of ``audio`` so that the edges have their context:
        ``(n_layers, n_frames, dim)``."""
        rate = self.backbone.frame_rate_hz
        first = round(skip / config.SAMPLE_RATE * rate)
        last = None if keep is None else first + round(keep / config.SAMPLE_RATE * rate)
        return self.frames(audio)[:, first:last]

    def frames_in_pieces(self, audio: np.ndarray) -> np.ndarray:
        """``frames(audio)``, computed piece by piece (``pieces``) so that a long clip costs
        the memory of one piece: the same frames, up to float rounding (tests/test_models.py)."""
        if self.pieces is None or len(audio) <= sum(self.pieces) + self.pieces[1]:
            return self.frames(audio)
        length, context = self.pieces
        parts = []
        for start in range(0, len(audio), length):
            first, end = max(0, start - context), start + length + context
            keep = length if end < len(audio) else None  # the last piece runs to the clip's end
            parts.append(self.frames_of_piece(audio[first:end], start - first, keep))
            if keep is None:
                break
        return np.concatenate(parts, axis=1)

    def predict_stats(self, stats: np.ndarray, mode: str = PLAIN, reference=None) -> np.ndarray:
        """Calibrated class probabilities ``(n_classes,)`` of clip statistics ``(n_layers, 2 * dim)``
        read in ``mode`` (``ser.modes``): ``reference`` is, for "voice", the speaker's plain
        voice statistics ``(n_layers, 2 * dim)``; for "adapted", the setting's (mean, std); for
        "warmed_up", the model's ``modes.WarmUpReading`` (the adapted head, its normaliser and bias)."""
        if mode == WARMED_UP:
            adapted = self.uncalibrated(stats, ADAPTED, (reference.mean, reference.std))
            return calibration.sharpen(biased(adapted, reference.bias), self.mode_calibration(mode).temperature)
        if mode == VOICE:
            return self.voice_head.predict_proba(stats - reference)
        if mode == ADAPTED:
            mean, std = reference
            return self.adapted_head.predict_proba((stats - mean) / std)
        return self.head.predict_proba(stats)

    def mode_calibration(self, mode: str) -> Calibration:
        """The card's calibration of readings in ``mode`` (plain: the card's own)."""
        return self.card.calibration if mode == PLAIN else getattr(self.card, mode).calibration

    def uncalibrated(self, stats: np.ndarray, mode: str = PLAIN, reference=None) -> np.ndarray:
        """``predict_stats`` before the mode's temperature: what the guards were measured on
        (``experiment.read_adapted``, ``read_voice``); ``(n_classes,)`` or ``(n_clips, n_classes)``."""
        temperature = self.mode_calibration(mode).temperature
        return calibration.sharpen(self.predict_stats(stats, mode, reference), 1 / temperature)

    def read_stats(self, stats: np.ndarray, mode: str = PLAIN, reference=None
                   ) -> tuple[np.ndarray, Calibration, bool]:
        """``predict_stats``, the calibration its reading is judged by (its temperature applied,
        its ``unsure_below``), and whether the clip counted as familiar: in plain mode a clip
        that sounds like the training corpora is calibrated as their new speakers were
        (``card.familiar``)."""
        probs = self.predict_stats(stats, mode, reference)
        familiar = self.card.familiar if mode == PLAIN else None
        if familiar and self.familiarity and self.familiarity.score(stats) >= familiar.above:
            # The head's output carries the card's temperature; swap it for the familiar one.
            ratio = familiar.calibration.temperature / self.card.calibration.temperature
            return calibration.sharpen(probs, ratio), familiar.calibration, True
        return probs, self.mode_calibration(mode), False

    def predict_frames(self, frames: np.ndarray, mode: str = PLAIN, reference=None) -> np.ndarray:
        """The calibrated reading (``read_stats``) of frames ``(n_layers, n_frames, dim)``."""
        return self.read_stats(clip_statistics(frames), mode, reference)[0]

    def predict_proba(self, audio: np.ndarray, mode: str = PLAIN, reference=None) -> np.ndarray:
        """Calibrated class probabilities ``(n_classes,)`` of 16 kHz mono audio, in ``labels`` order."""
        return self.predict_frames(self.frames(audio), mode, reference)

    def can_read(self, mode: str) -> bool:
        """Whether the model reads in ``mode``: it has the head, and on left-out corpora the mode
        read its failure cases no worse than plain (``ReadingMode.holds``)."""
        adapts = self.adapted_head is not None and self.setting_prior is not None
        card = self.card
        return {PLAIN: True, ADAPTED: adapts and (card.adapted is None or card.adapted.holds),
                VOICE: self.voice_head is not None and (card.voice is None or card.voice.holds),
                WARMED_UP: adapts and card.warmed_up is not None and card.warmed_up.holds}[mode]


def onnx_file(weights_file: str) -> str:
    """The export's file name beside a head's weights: ``head.safetensors`` -> ``head.onnx``."""
    return str(Path(weights_file).with_suffix(".onnx"))


def save_model(folder: Path, head: HeadEnsemble, card: ModelCard,
               mode_heads: dict[str, HeadEnsemble] | None = None,
               setting_prior: SettingPrior | None = None,
               familiar_to: familiarity.Familiarity | None = None) -> Path:
    """Write each head's weights (``head.safetensors``, and ``MODE_HEAD_FILES`` for
    ``mode_heads``) and its ONNX export (``.onnx`` beside them), the adapted mode's
    ``setting_prior.npz``, ``familiarity.npz`` (``familiar_to``) and ``card.json``, into
    ``folder``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if setting_prior is not None:
        np.savez(folder / SETTING_PRIOR_FILE, mean=setting_prior.mean, var=setting_prior.var)
    if familiar_to is not None:
        familiarity.save(familiar_to, folder / FAMILIARITY_FILE)
    heads = [(head, HEAD_FILE)] + [(h, MODE_HEAD_FILES[m]) for m, h in (mode_heads or {}).items()]
    for module, name in heads:
        if module is not None:
            state = {k: v.contiguous() for k, v in module.state_dict().items()}
            save_file(state, folder / name, metadata={"model_id": card.id})
            _export_head(module, folder / name, card)
    write_card(folder, card)
    return folder


def export_heads(folder: Path) -> list[Path]:
    """Export the heads of the model in ``folder`` to ONNX again from their safetensors (as
    ``save_model`` does after training; nothing is retrained); returns the files written."""
    card = read_card(folder)
    names = [HEAD_FILE] + [f for m, f in MODE_HEAD_FILES.items() if getattr(card, m)]
    return [_export_head(torch_head(Path(folder) / name, card), Path(folder) / name, card) for name in names]


def torch_head(weights: Path, card: ModelCard) -> HeadEnsemble:
    """The PyTorch head (eval mode) whose safetensors are at ``weights``, shaped as ``card`` says."""
    from safetensors.torch import load_file

    from ser.heads import HeadConfig, HeadEnsemble

    head = HeadEnsemble(HeadConfig(**card.head["config"]), card.head["n_members"])
    # strict: a head whose tensors do not match its card must not load half-initialised
    head.load_state_dict(load_file(weights), strict=True)
    return head.eval()


def _export_head(head: HeadEnsemble, weights: Path, card: ModelCard) -> Path:
    """Export ``head``, whose weights were saved at ``weights``, beside them as ONNX."""
    from ser.heads import export_head_onnx

    metadata = {
        "model_id": card.id,
        "weights_sha256": _sha256(weights),
        "head": json.dumps({"config": head.config.to_dict(), "n_members": len(head.members)}),
        "temperature": repr(float(head.temperature)),
    }
    return export_head_onnx(head, weights.parent / onnx_file(weights.name), metadata)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_head(weights: Path, card: ModelCard) -> OnnxHead:
    """The ONNX export of the head whose weights are at ``weights``, checked against them and
    against the card: a stale or foreign export must not run."""
    path = weights.parent / onnx_file(weights.name)
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing; {EXPORT_HINT}")
    head = OnnxHead(path)
    if head.metadata.get("weights_sha256") != _sha256(weights):
        raise ValueError(f"{path.name} was exported from other weights than {weights.name}; {EXPORT_HINT}")
    expected = {"config": card.head.get("config"), "n_members": card.head.get("n_members")}
    if head.shape != expected:
        raise ValueError(f"{weights.name} holds a head of {head.shape}, its card says {expected}")
    return head


def load_model(folder: Path) -> EmotionModel:
    """Load one model folder; raises ``ModelError`` with a clear reason."""
    folder = Path(folder)
    try:
        card = read_card(folder)
    except CardError as err:
        raise ModelError(str(err)) from err
    try:
        head = _load_head(folder / HEAD_FILE, card)
        voice_head = _load_head(folder / VOICE_HEAD_FILE, card) if card.voice else None
        adapted_head = _load_head(folder / ADAPTED_HEAD_FILE, card) if card.adapted else None
        prior = _load_prior(folder / SETTING_PRIOR_FILE) if card.adapted else None
        familiar_to = familiarity.load(folder / FAMILIARITY_FILE) if card.familiar else None
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{folder}: the head does not load ({type(err).__name__}: {err})") from err
    try:
        backbone = get_backbone(card.backbone.kind, card.backbone.checkpoint)
    except (OSError, ImportError, RuntimeError, ValueError, KeyError) as err:  # missing package or weights
        raise ModelError(f"{folder}: its backbone does not load ({type(err).__name__}: {err})") from err
    return EmotionModel(card, head, backbone, voice_head, adapted_head, prior, familiar_to)


def _load_prior(path: Path) -> SettingPrior:
    with np.load(path, allow_pickle=False) as saved:
        return SettingPrior(saved["mean"], saved["var"])


def load_models(models_dir: Path = config.MODELS_DIR) -> list[EmotionModel]:
    """Every model under ``models_dir``, in display order."""
    return [load_model(folder) for folder in model_folders(models_dir)]
