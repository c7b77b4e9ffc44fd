"""Analysing one clip with every model: per-model and fused predictions, and a
per-window timeline for clips longer than one window.

Each backbone runs over the span that holds speech, a long one piece by piece
(``EmotionModel.frames_in_pieces``: the same frames in bounded memory); the clip's
prediction pools all of its frames and each timeline window pools its own slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ser import audio as audio_io
from ser import calibration, config, reports, speakers
from ser.models import EmotionModel
from ser.reports import FUSED


@dataclass(frozen=True)
class Prediction:
    probs: dict[str, float]  # emotion -> probability, in config.EMOTIONS order
    # True when the top probability is below the model's calibrated threshold: the
    # reading is shown as a question ("angry or sad?"), not a verdict.
    unsure: bool = False

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.get)

    @property
    def confidence(self) -> float:
        return self.probs[self.label]

    @property
    def runner_up(self) -> str:
        """The second most likely emotion: what an unsure reading hesitates between."""
        return sorted(self.probs, key=self.probs.get, reverse=True)[1]

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 4), "unsure": self.unsure,
                "probs": {k: round(v, 4) for k, v in self.probs.items()}}


@dataclass(frozen=True)
class WindowPrediction:
    start_s: float
    end_s: float
    speech: bool
    models: dict[str, Prediction] = field(default_factory=dict)
    fused: Prediction | None = None

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "speech": self.speech,
                "models": {k: p.to_dict() for k, p in self.models.items()},
                "fused": self.fused.to_dict() if self.fused else None}


@dataclass(frozen=True)
class ClipAnalysis:
    duration_s: float
    speech: bool
    speech_s: float
    models: dict[str, Prediction]  # empty when there is no speech
    fused: Prediction | None
    timeline: list[WindowPrediction]  # empty for clips no longer than one window
    lead: str = FUSED  # the reading to show first: the model id (or FUSED) that measures best

    @property
    def lead_prediction(self) -> Prediction | None:
        """The reading the app and the CLI lead with (None when there is no speech)."""
        return self.fused if self.lead == FUSED else self.models.get(self.lead)

    @property
    def agreeing_models(self) -> list[str]:
        """Models whose label is the fused verdict."""
        return [k for k, p in self.models.items() if self.fused and p.label == self.fused.label]

    def to_dict(self) -> dict:
        return {
            "duration_s": round(self.duration_s, 3),
            "speech": self.speech,
            "speech_s": round(self.speech_s, 3),
            "models": {k: p.to_dict() for k, p in self.models.items()},
            "fused": self.fused.to_dict() if self.fused else None,
            "lead": self.lead,
            "timeline": {"window_s": config.WINDOW_S, "hop_s": config.HOP_S,
                         "windows": [w.to_dict() for w in self.timeline]} if self.timeline else None,
        }

    def to_rows(self) -> list[dict]:
        """Flat rows for CSV: one per (scope, model), scope "clip" or a window's span."""
        rows = []
        scopes = [("clip", 0.0, self.duration_s, self.models, self.fused)]
        scopes += [("window", w.start_s, w.end_s, w.models, w.fused) for w in self.timeline]
        for scope, start, end, models, fused in scopes:
            named = dict(models, **({"fused": fused} if fused else {}))
            for model_id, p in named.items():
                rows.append({"scope": scope, "start_s": round(start, 3), "end_s": round(end, 3),
                             "model": model_id, "label": p.label, "confidence": round(p.confidence, 4),
                             **{e: round(v, 4) for e, v in p.probs.items()}})
        return rows


def fuse(predictions: dict[str, Prediction], fusion: dict | None) -> Prediction | None:
    """The models' verdict together: log-linear fusion with the stacking weights of
    ``fusion`` (``reports.read_fusion``) when it covers exactly these models, else the
    plain mean of their probabilities."""
    if not predictions:
        return None
    ids = list(predictions)
    labels = list(predictions[ids[0]].probs)
    probs = [np.array([predictions[k].probs[e] for e in labels]) for k in ids]
    if fusion and sorted(fusion["models"]) == sorted(ids):
        weights = dict(zip(fusion["models"], fusion["weights"]))
        fused = calibration.fuse(probs, [weights[k] for k in ids])
    else:
        fused = np.mean(probs, axis=0)
    return Prediction(dict(zip(labels, fused.tolist())), bool(calibration.unsure(fused.max())))


def _prediction(model: EmotionModel, frames: np.ndarray, voice: dict | None) -> Prediction:
    reference = (voice or {}).get(model.id)
    probs = model.predict_frames(frames, reference)
    settings = model.card.voice.calibration if reference is not None and model.card.voice else \
        model.card.calibration
    unsure = calibration.unsure(probs.max(), settings.unsure_below)
    return Prediction(dict(zip(model.labels, probs.tolist())), bool(unsure))


def voice_reference(recordings: list[np.ndarray], models: list[EmotionModel]) -> dict[str, np.ndarray]:
    """Each model's mean clip statistics ``(n_layers, 2 * dim)`` over a speaker's recordings
    (16 kHz mono), for ``analyse(..., voice=...)``; models without a voice-calibrated head
    are left out. Raises ``AudioError`` when the recordings hold too little speech."""
    if not speakers.enough_speech(recordings):
        raise audio_io.AudioError(f"Calibrating to a voice needs at least "
                                  f"{config.MIN_CALIBRATION_SPEECH_S:g} s of that voice's speech.")
    pieces = [p for r in recordings for p in speakers.reference_windows(r)]
    return {m.id: m.voice_statistics(pieces) for m in models if m.voice_head is not None}


def analyse(audio: np.ndarray, models: list[EmotionModel], fusion: dict | None = None,
            voice: dict[str, np.ndarray] | None = None) -> ClipAnalysis:
    """Analyse 16 kHz mono audio ``(n_samples,)`` with every model; ``fusion`` holds the
    stacking weights of the fused verdict (``reports.read_fusion``); ``voice``, from
    ``voice_reference``, makes each model hear the clip relative to its speaker's voice.

    Silence (no speech detected) is reported as such and never classified.
    """
    activity = audio_io.speech_activity(audio)
    if not activity.has_speech:
        return _no_speech(audio, activity)
    start, end = audio_io.speech_span(audio, activity=activity)
    frames = {m.id: m.frames_in_pieces(audio[start:end]) for m in models}
    offsets = {m.id: start / config.SAMPLE_RATE for m in models}
    return _analysis(audio, activity, models, frames, offsets, fusion, voice)


def analyse_frames(audio: np.ndarray, frames: dict[str, np.ndarray], frames_from: int,
                   models: list[EmotionModel], fusion: dict | None = None,
                   voice: dict[str, np.ndarray] | None = None) -> ClipAnalysis:
    """``analyse`` from backbone frames already computed: ``frames[model.id]`` is
    ``(n_layers, n_frames, dim)`` over ``audio[frames_from:]`` (16 kHz mono), frame ``i``
    at ``frames_from / 16000 + i / frame_rate_hz`` seconds into ``audio``.

    Pools exactly what ``analyse`` pools: the frames of the speech span for the clip,
    each window's for the timeline, cut at whole frames. ``frames_from`` should be
    the speech span's start: the backbones' frames depend on the audio before them,
    and ``analyse`` runs them from there. Whether the frames equal the ones ``analyse``
    computes depends on how they were made (see ``ser.live.TakeAnalyser``).
    """
    activity = audio_io.speech_activity(audio)
    if not activity.has_speech:
        return _no_speech(audio, activity)
    start, end = audio_io.speech_span(audio, activity=activity)
    spans, offsets = {}, {}
    for m in models:
        rate = m.backbone.frame_rate_hz
        lo = max(0, round((start - frames_from) / config.SAMPLE_RATE * rate))
        hi = int(np.ceil((end - frames_from) / config.SAMPLE_RATE * rate))
        spans[m.id], offsets[m.id] = frames[m.id][:, lo:hi], frames_from / config.SAMPLE_RATE + lo / rate
    return _analysis(audio, activity, models, spans, offsets, fusion, voice)


def _no_speech(audio: np.ndarray, activity: audio_io.SpeechActivity) -> ClipAnalysis:
    return ClipAnalysis(len(audio) / config.SAMPLE_RATE, False, activity.speech_s, {}, None, [])


def _analysis(audio, activity, models, frames, offsets, fusion, voice) -> ClipAnalysis:
    """The clip's analysis from each model's frames of its speech span, which begin
    ``offsets[model.id]`` seconds into ``audio``."""
    duration_s = len(audio) / config.SAMPLE_RATE
    clip = {m.id: _prediction(m, frames[m.id], voice) for m in models}
    timeline = []
    if duration_s > config.WINDOW_S:
        timeline = [_window(audio, w_start, w_end, offsets, models, frames, fusion, voice)
                    for w_start, w_end in audio_io.windows(len(audio))]
    lead = reports.lead_id([m.card for m in models], fusion)
    return ClipAnalysis(duration_s, True, activity.speech_s, clip, fuse(clip, fusion), timeline, lead)


def _window(audio, start, end, offsets, models, frames, fusion, voice) -> WindowPrediction:
    start_s, end_s = start / config.SAMPLE_RATE, end / config.SAMPLE_RATE
    if not audio_io.speech_activity(audio[start:end]).has_speech:
        return WindowPrediction(start_s, end_s, False)
    preds = {}
    for m in models:
        rate = m.backbone.frame_rate_hz
        lo = max(0, int((start_s - offsets[m.id]) * rate))
        hi = min(frames[m.id].shape[1], int(np.ceil((end_s - offsets[m.id]) * rate)))
        if hi - lo >= 2:
            preds[m.id] = _prediction(m, frames[m.id][:, lo:hi], voice)
    return WindowPrediction(start_s, end_s, bool(preds), preds, fuse(preds, fusion))


def warm_up(models: list[EmotionModel]) -> None:
    """Analyse two seconds of a synthetic voiced sound with every model.

    The first call of each backbone pays for lazy set-up (the ONNX Runtime
    sessions, filter banks and the DCT matrix); doing it
    at load time keeps that cost away from the user's first clip.
    """
    times_s = np.arange(2 * config.SAMPLE_RATE) / config.SAMPLE_RATE
    voiced = (times_s > 0.5) & (times_s < 1.5)  # silence either side, so the speech detector fires
    buzz = sum(np.sin(2 * np.pi * 150.0 * k * times_s) / k for k in range(1, 6))
    analyse((0.2 * voiced * buzz).astype(np.float32), models)
