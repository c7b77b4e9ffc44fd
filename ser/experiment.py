"""The experiment end to end: corpora in, cross-validated, calibrated, saved models out.

index the corpora -> clip statistics per backbone (cached) -> folds by speaker inside
every corpus, and leave-one-corpus-out -> a temperature fitted on the left-out
corpora -> the final ensemble on every clip -> ``models/<id>/`` with its card and
out-of-fold predictions, and the same again for a head calibrated to the speaker's voice
(``ser.speakers``). ``fit_fusion`` then stacks the saved models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ser import calibration, config, evaluation, featurestore
from ser.backbones import REGISTRY, get_backbone
from ser.cards import BackboneInfo, Calibration, ModelCard, VoiceCalibration
from ser.corpora import CORPORA, citations, index_corpora
from ser.heads import HeadConfig, HeadEnsemble
from ser.models import save_model
from ser.reports import CV_PREDICTIONS_FILE, FUSION_FILE, fusion_report
from ser.speakers import subtract_speaker_means
from ser.training import TrainConfig, cross_validate, fit_ensemble


@dataclass(frozen=True)
class Corpora:
    clips: pd.DataFrame  # ser.corpora.COLUMNS, one row per clip
    labels: np.ndarray  # emotion index into config.EMOTIONS, (n_clips,)
    allowed: np.ndarray  # classes each clip's corpus can name, bool (n_clips, n_classes)
    sha256: str  # of the file names and contents: which data a model saw

    @property
    def corpora(self) -> np.ndarray:
        return self.clips["corpus"].to_numpy()

    @property
    def speakers(self) -> np.ndarray:
        return self.clips["speaker"].to_numpy()

    @property
    def corpus_ids(self) -> list[str]:
        return sorted(set(self.corpora.tolist()))

    @property
    def description(self) -> str:
        parts = [f"{CORPORA[c].name} {int((self.corpora == c).sum())} clips, "
                 f"{len(set(self.speakers[self.corpora == c]))} speakers" for c in self.corpus_ids]
        return "; ".join(parts)


def corpus_emotions(corpus_ids) -> dict[str, tuple[str, ...]]:
    return {c: CORPORA[c].emotions for c in corpus_ids}


def data_sha256(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def load_corpora(root: str | Path, only: list[str] | None = None) -> Corpora:
    """Every clip of the corpora in ``root`` (one corpus folder, or a folder of them),
    or of the corpora named in ``only``."""
    clips = index_corpora(root).clips
    if only:
        clips = clips[clips["corpus"].isin(only)].reset_index(drop=True)
    if clips.empty:
        raise ValueError(f"{root}: no clips of a known corpus found")
    labels = clips["emotion"].map(config.EMOTIONS.index).to_numpy()
    allowed = evaluation.allowed_mask(clips["corpus"], corpus_emotions(clips["corpus"].unique()))
    return Corpora(clips, labels, allowed, data_sha256(clips["path"].tolist()))


def head_config(kind: str, checkpoint: str | None = None) -> HeadConfig:
    backbone = get_backbone(kind, checkpoint)
    return HeadConfig(n_layers=backbone.n_layers, dim=backbone.dim, n_classes=len(config.EMOTIONS))


@dataclass(frozen=True)
class CvResult:
    speaker_probs: np.ndarray | None  # out-of-fold, folds by speaker in every corpus, (n_clips, n_classes)
    corpus_probs: np.ndarray | None  # leave-one-corpus-out (None with a single corpus)


def clip_stats(kind: str, data: Corpora, checkpoint: str | None = None, progress: bool = True) -> np.ndarray:
    """Clip statistics ``(n_clips, L, 2D)`` of every clip of ``data`` (cached)."""
    return featurestore.dataset_statistics(get_backbone(kind, checkpoint), data.clips["path"], progress)


def run_cv(stats: np.ndarray, data: Corpora, head: HeadConfig, cfg: TrainConfig,
           speaker_folds: bool = True) -> CvResult:
    """The cross-validations of one recipe on clip statistics ``stats``."""
    speaker = corpus = None
    if speaker_folds:
        folds = evaluation.speaker_folds(data.corpora, data.speakers)
        speaker = cross_validate(stats, data.labels, data.allowed, data.corpora, folds, head, cfg)
    if len(data.corpus_ids) > 1:
        folds = list(evaluation.corpus_folds(data.corpora).values())
        corpus = cross_validate(stats, data.labels, data.allowed, data.corpora, folds, head, cfg)
    return CvResult(speaker, corpus)


def held_out_temperatures(probs: np.ndarray, data: Corpora) -> dict[str, float]:
    """For each corpus, the temperature fitted on the other corpora's left-out predictions:
    the temperature a corpus no model or calibration ever saw would get."""
    emotions = corpus_emotions(data.corpus_ids)
    return {c: calibration.fit_temperature(probs[data.corpora != c], data.labels[data.corpora != c],
                                           data.corpora[data.corpora != c], emotions)
            for c in data.corpus_ids}


def transfer_reports(probs: np.ndarray, data: Corpora, temperatures: dict[str, float]) -> dict:
    """Per left-out corpus: ``evaluation.transfer_score`` of its calibrated predictions."""
    reports = {}
    for c in data.corpus_ids:
        rows = data.corpora == c
        calibrated = calibration.sharpen(probs[rows], temperatures[c])
        reports[c] = evaluation.transfer_score(data.labels[rows], calibrated, CORPORA[c].emotions,
                                               config.UNSURE_BELOW)
        reports[c]["temperature"] = round(temperatures[c], 4)
    return reports


def speaker_fold_reports(probs: np.ndarray, data: Corpora, temperature: float) -> dict:
    """Folds by speaker: a transfer report per corpus, and RAVDESS scored on its 8 emotions
    per actor as in the literature."""
    probs = calibration.sharpen(probs, temperature)
    reports = {"corpora": {}, "folds": f"{evaluation.N_FOLDS} folds by speaker inside every corpus"}
    for c in data.corpus_ids:
        rows = data.corpora == c
        reports["corpora"][c] = evaluation.transfer_score(data.labels[rows], probs[rows],
                                                          CORPORA[c].emotions, config.UNSURE_BELOW)
        if c == "ased":  # most ASED texts give the emotion away; its two common texts do not
            common = rows & data.clips["common_sentence"].to_numpy(bool)
            reports["corpora"][c]["common_sentences"] = evaluation.transfer_score(
                data.labels[common], probs[common], CORPORA[c].emotions)
    if "ravdess" in data.corpus_ids:
        rows = data.corpora == "ravdess"
        actors = data.speakers[rows]
        reports["ravdess_8_class"] = evaluation.score(data.labels[rows], probs[rows].argmax(1),
                                                      [int(a.split("_")[1]) for a in actors])
    return reports


def predictions_frame(data: Corpora, result: CvResult) -> pd.DataFrame:
    """One row per clip: file, corpus, speaker, true emotion and both out-of-fold
    probabilities (uncalibrated), kept so models can be stacked clip by clip."""
    frame = data.clips[["path", "corpus", "speaker", "emotion"]].copy()
    frame["path"] = [str(Path(p).relative_to(Path(p).parents[1])) for p in frame["path"]]
    parts = [frame.reset_index(drop=True),
             pd.DataFrame(result.speaker_probs, columns=[f"speaker_fold:{e}" for e in config.EMOTIONS])]
    if result.corpus_probs is not None:
        parts.append(pd.DataFrame(result.corpus_probs, columns=[f"corpus_out:{e}" for e in config.EMOTIONS]))
    return pd.concat(parts, axis=1)


@dataclass
class TrainedHead:
    head: HeadEnsemble
    calibration: Calibration
    speaker_folds: dict | None
    transfer: dict | None
    cv: CvResult | None


def train_head(stats: np.ndarray, data: Corpora, head_cfg: HeadConfig, cfg: TrainConfig,
               with_cv: bool, speaker_folds: bool = True) -> TrainedHead:
    """Cross-validate (leave-one-corpus-out, and by speaker unless ``speaker_folds`` is
    False), calibrate on the left-out corpora, then fit on all clips."""
    result = run_cv(stats, data, head_cfg, cfg, speaker_folds) if with_cv else None
    temperature, transfer, fitted_on = 1.0, None, "not calibrated"
    if result is not None and result.corpus_probs is not None:
        emotions = corpus_emotions(data.corpus_ids)
        # Rounded here so that the head and its card hold the same number.
        temperature = round(calibration.fit_temperature(result.corpus_probs, data.labels, data.corpora,
                                                        emotions), 4)
        fitted_on = "leave-one-corpus-out predictions of " + ", ".join(data.corpus_ids)
        transfer = transfer_reports(result.corpus_probs, data, held_out_temperatures(result.corpus_probs, data))
    speaker_fold_report = None
    if result is not None and result.speaker_probs is not None:
        speaker_fold_report = speaker_fold_reports(result.speaker_probs, data, temperature)
    head = fit_ensemble(stats, data.labels, data.allowed, data.corpora, head_cfg, cfg)
    head.temperature.fill_(temperature)
    return TrainedHead(head, Calibration(temperature, config.UNSURE_BELOW, fitted_on),
                       speaker_fold_report, transfer, result)


def train_model(kind: str, data: Corpora, models_dir: Path = config.MODELS_DIR,
                checkpoint: str | None = None, with_cv: bool = True,
                train_config: TrainConfig | None = None, progress: bool = True) -> Path:
    """Cross-validate, calibrate and train the final model of ``kind`` on all of ``data``, with
    its voice-calibrated twin (``ser.speakers``); save both under ``models_dir/<kind>``."""
    cfg = train_config or TrainConfig()
    backbone = get_backbone(kind, checkpoint)
    head_cfg = head_config(kind, checkpoint)
    stats = clip_stats(kind, data, checkpoint, progress)
    plain = train_head(stats, data, head_cfg, cfg, with_cv)
    # The twin's figure that matters is transfer to a new corpus; folds by speaker would
    # double the training time for a number the app does not show.
    voice = train_head(subtract_speaker_means(stats, data.speakers), data, head_cfg, cfg, with_cv,
                       speaker_folds=False)
    entry = REGISTRY[kind]
    card = ModelCard(
        id=kind,
        name=entry.model_name,
        labels=list(config.EMOTIONS),
        backbone=BackboneInfo(kind, backbone.id, backbone.name, backbone.source, backbone.n_layers,
                              backbone.dim, backbone.frame_rate_hz, checkpoint),
        head={"config": head_cfg.to_dict(), "n_members": cfg.n_members,
              "layer_weights": [[round(w, 4) for w in m.layer_weights()] for m in plain.head.members]},
        training={"corpora": data.corpus_ids, "data": data.description, "data_sha256": data.sha256,
                  "config": cfg.to_dict()},
        calibration=plain.calibration,
        speaker_folds=plain.speaker_folds,
        transfer=plain.transfer,
        voice=VoiceCalibration(voice.calibration, voice.speaker_folds, voice.transfer),
        citations=citations(data.corpus_ids),
    )
    folder = save_model(Path(models_dir) / kind, plain.head, card, voice.head)
    if plain.cv is not None:
        predictions_frame(data, plain.cv).round(5).to_csv(folder / CV_PREDICTIONS_FILE, index=False)
    return folder


def fit_fusion(models_dir: Path = config.MODELS_DIR) -> Path | None:
    """Stack the saved models' leave-one-corpus-out predictions into fusion weights, write
    ``models_dir/fusion.json`` (weights, and the fused verdict's transfer report with each
    corpus scored by weights fitted without it); None with fewer than two such models."""
    import json

    folders = [p.parent for p in sorted(Path(models_dir).glob(f"*/{CV_PREDICTIONS_FILE}"))]
    frames = {f.name: pd.read_csv(f / CV_PREDICTIONS_FILE) for f in folders}
    out_cols = [f"corpus_out:{e}" for e in config.EMOTIONS]
    frames = {k: f for k, f in frames.items() if set(out_cols) <= set(f.columns)}
    if len(frames) < 2:
        return None
    first = next(iter(frames.values()))
    if any(not f["path"].equals(first["path"]) for f in frames.values()):
        raise ValueError("the models were cross-validated on different clips; retrain them together")
    ids = list(frames)
    probs = [frames[k][out_cols].to_numpy() for k in ids]
    labels = first["emotion"].map(config.EMOTIONS.index).to_numpy()
    corpora = first["corpus"].to_numpy()
    emotions = corpus_emotions(sorted(set(corpora)))
    weights = calibration.fit_fusion(probs, labels, corpora, emotions)
    held_out = {}
    for c in sorted(set(corpora)):
        rows = corpora == c
        w = calibration.fit_fusion([p[~rows] for p in probs], labels[~rows], corpora[~rows], emotions)
        fused = calibration.fuse([p[rows] for p in probs], w)
        held_out[c] = evaluation.transfer_score(labels[rows], fused, emotions[c], config.UNSURE_BELOW)
        held_out[c]["weights"] = dict(zip(ids, np.round(w, 4).tolist()))
    path = Path(models_dir) / FUSION_FILE
    path.write_text(json.dumps(fusion_report(ids, weights, held_out), indent=2) + "\n")
    return path
