"""The experiment end to end: a RAVDESS folder in, a cross-validated, saved model out.

index the folder -> backbone features (cached) -> cross-validation by actor ->
final ensemble on every clip -> ``models/<id>/`` with its card.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ser import config, evaluation, featurestore
from ser.backbones import get_backbone
from ser.dataset import index_dataset, speech_only
from ser.heads import HeadConfig
from ser.inference import fusion_weight
from ser.models import read_card, save_model
from ser.training import TrainConfig, cross_validate, fit_ensemble

CV_PREDICTIONS_FILE = "cv_predictions.csv"


@dataclass(frozen=True)
class LabelledData:
    paths: list[str]
    labels: np.ndarray  # emotion index into config.EMOTIONS, shape (n_clips,)
    actors: np.ndarray  # actor number, shape (n_clips,)
    sha256: str  # of the file names and contents: which data a model saw

    @property
    def description(self) -> str:
        actors = sorted(set(self.actors.tolist()))
        return f"RAVDESS speech, {len(self.paths)} clips, actors {actors[0]:02d}-{actors[-1]:02d}"


def data_sha256(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def load_labelled(data_dir: str | Path) -> LabelledData:
    """Audio-only speech clips of a RAVDESS folder with their labels and actors."""
    index = index_dataset(data_dir)
    clips = speech_only(index.clips)
    if clips.empty:
        raise ValueError(f"{data_dir}: no RAVDESS speech clips found")
    paths = clips["path"].tolist()
    return LabelledData(
        paths=paths,
        labels=clips["emotion_code"].to_numpy() - 1,
        actors=clips["actor"].to_numpy(),
        sha256=data_sha256(paths),
    )


def recipe(kind: str, checkpoint: str | None = None) -> tuple[HeadConfig, TrainConfig]:
    """The head and training settings of a backbone kind (``config.RECIPES``); the head's
    input shape comes from the backbone that ``checkpoint`` picks."""
    head_options, train_options = (config.RECIPES[kind].get(k, {}) for k in ("head", "train"))
    backbone = get_backbone(kind, **backbone_options(kind, checkpoint))
    head = HeadConfig(n_layers=backbone.n_layers, dim=backbone.dim, n_classes=len(config.EMOTIONS),
                      **head_options)
    return head, TrainConfig(**train_options)


def backbone_options(kind: str, checkpoint: str | None = None) -> dict:
    options = dict(config.RECIPES[kind].get("backbone", {}))
    if checkpoint:
        options["checkpoint"] = checkpoint
    return options


def run_cv(kind: str, data: LabelledData, checkpoint: str | None = None,
           train_config: TrainConfig | None = None, progress: bool = True) -> tuple[dict, np.ndarray]:
    """Speaker-independent cross-validation of one model recipe: the report and the
    out-of-fold probabilities ``(n_clips, n_classes)``."""
    backbone = get_backbone(kind, **backbone_options(kind, checkpoint))
    head_config, default_train = recipe(kind, checkpoint)
    features = featurestore.dataset_features(backbone, data.paths, progress)
    probs = cross_validate(features, data.labels, data.actors, head_config,
                           train_config or default_train, backbone.frame_rate_hz, progress)
    report = evaluation.score(data.labels, probs.argmax(1), data.actors)
    report["folds"] = f"{evaluation.N_FOLDS} folds by actor, each actor tested once"
    return report, probs


def cv_predictions_frame(data: LabelledData, probs: np.ndarray) -> pd.DataFrame:
    """One row per clip: file name, actor, true label and out-of-fold probabilities."""
    frame = pd.DataFrame({
        "file": [Path(p).name for p in data.paths],
        "actor": data.actors,
        "emotion": [config.EMOTIONS[i] for i in data.labels],
    })
    return pd.concat([frame, pd.DataFrame(probs, columns=list(config.EMOTIONS))], axis=1)


def train_model(kind: str, data: LabelledData, models_dir: Path = config.MODELS_DIR,
                checkpoint: str | None = None, with_cv: bool = True,
                train_config: TrainConfig | None = None, progress: bool = True) -> Path:
    """Train the final model of ``kind`` on all of ``data`` and save it under ``models_dir``."""
    options = backbone_options(kind, checkpoint)
    backbone = get_backbone(kind, **options)
    head_config, default_train = recipe(kind, checkpoint)
    train_config = train_config or default_train
    cv, cv_probs = run_cv(kind, data, checkpoint, train_config, progress) if with_cv else (None, None)
    features = featurestore.dataset_features(backbone, data.paths, progress)
    head = fit_ensemble(features, data.labels, head_config, train_config, backbone.frame_rate_hz)
    model_id = kind
    card = {
        "id": model_id,
        "name": config.RECIPES[kind]["name"],
        "labels": list(config.EMOTIONS),
        "backbone": {
            "kind": kind,
            "id": backbone.id,
            "name": backbone.name,
            "source": backbone.source,
            "checkpoint": checkpoint,
            "params": {k: v for k, v in options.items() if k != "checkpoint"},
            "n_layers": backbone.n_layers,
            "dim": backbone.dim,
            "frame_rate_hz": backbone.frame_rate_hz,
        },
        "features": config.feature_parameters(),
        "head": {"config": head_config.to_dict(), "n_members": train_config.n_members,
                 "layer_weights": [m.layer_weights() for m in head.members]},
        "training": {"data": data.description, "data_sha256": data.sha256,
                     "config": train_config.to_dict()},
        "cv": cv,
        "data_licence": evaluation.DATA_LICENCE,
        "citation": evaluation.CITATION,
    }
    folder = save_model(Path(models_dir) / model_id, head, card)
    if cv_probs is not None:  # kept so models can be fused and compared clip by clip
        cv_predictions_frame(data, cv_probs).round(5).to_csv(folder / CV_PREDICTIONS_FILE, index=False)
    return folder


def fused_cv(models_dir: Path = config.MODELS_DIR) -> dict | None:
    """Cross-validation report of the models' fused verdict, from each model's saved
    out-of-fold predictions, weighted as in the app (``inference.fusion_weight``); None
    when fewer than two models have such predictions for the same clips."""
    folders = [p.parent for p in sorted(Path(models_dir).glob(f"*/{CV_PREDICTIONS_FILE}"))]
    if len(folders) < 2:
        return None
    emotions = list(config.EMOTIONS)
    frames = [pd.read_csv(f / CV_PREDICTIONS_FILE).sort_values("file").reset_index(drop=True)
              for f in folders]
    if any(not f["file"].equals(frames[0]["file"]) for f in frames):
        return None  # models cross-validated on different clips cannot be fused clip by clip
    weights = [fusion_weight(read_card(f)) for f in folders]
    probs = np.average([f[emotions].to_numpy() for f in frames], axis=0, weights=weights)
    truth = frames[0]["emotion"].map(emotions.index).to_numpy()
    report = evaluation.score(truth, probs.argmax(1), frames[0]["actor"].to_numpy())
    report["folds"] = f"{evaluation.N_FOLDS} folds by actor, each actor tested once"
    report["models"] = {f.name: round(w, 4) for f, w in zip(folders, weights)}
    return report
