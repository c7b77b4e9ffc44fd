"""Analysing one clip with every model: per-model and fused predictions, and a
per-window timeline for clips longer than one window.

Each backbone runs over the span that holds speech, a long one piece by piece
(``EmotionModel.frames_in_pieces``: the same frames in bounded memory); the clip's
prediction pools all of its frames and each timeline window pools its own slice.
Every reading says which mode it was read in (``ser.modes``): plain, adapted to a
setting (``Setting``, from ``hear``), calibrated to a voice (``voice_reference``) or read
against an acted warm-up of that voice (``warm_up_reference``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ser import audio as audio_io
from ser import calibration, config, modes, reports, speakers
from ser.models import EmotionModel
from ser.onnx_heads import clip_statistics
from ser.reports import FUSED


@dataclass(frozen=True)
class Prediction:
    probs: dict[str, float]  # emotion -> probability, in config.EMOTIONS order
    # True when the top probability is below the model's calibrated threshold: the
    # reading is shown as a question ("angry or sad?"), not a verdict.
    unsure: bool = False
    mode: str = modes.PLAIN  # what the reading rests on beyond the clip (ser.modes)
    # The clip sounds like the corpora the model learnt on, so its confidence is calibrated on
    # their new speakers rather than on corpora never heard (ser.cards.Familiar).
    familiar: bool = False

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
                "mode": self.mode, "familiar": self.familiar,
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
    # The lead reading's mode, and seconds of speech it rests on beyond the clip (the setting
    # heard so far, or the voice reference); 0 in plain mode.
    mode: str = modes.PLAIN
    mode_speech_s: float = 0.0
    # Every reading (model ids and FUSED) as read plain, when some reading was not: what a
    # calibrated card says it read before. Empty when every reading is plain.
    plain: dict[str, Prediction] = field(default_factory=dict)

    @property
    def lead_prediction(self) -> Prediction | None:
        """The reading the app and the CLI lead with (None when there is no speech)."""
        return self.fused if self.lead == FUSED else self.models.get(self.lead)

    @property
    def plain_lead(self) -> Prediction | None:
        """What the lead reading read plain, when its mode is not plain."""
        return self.plain.get(self.lead) if self.mode != modes.PLAIN else None

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
            "mode": self.mode,
            "mode_speech_s": round(self.mode_speech_s, 3),
            "plain_lead": self.plain_lead.to_dict() if self.plain_lead else None,
            "timeline": {"window_s": config.WINDOW_S, "hop_s": config.HOP_S,
                         "windows": [w.to_dict() for w in self.timeline]} if self.timeline else None,
        }

    def to_rows(self) -> list[dict]:
        """Flat rows for CSV: one per (scope, model), scope "clip" or a window's span, each
        saying how the clip was heard (``mode``) and whether the reading is ``unsure``."""
        rows = []
        scopes = [("clip", 0.0, self.duration_s, self.models, self.fused)]
        scopes += [("window", w.start_s, w.end_s, w.models, w.fused) for w in self.timeline]
        for scope, start, end, models, fused in scopes:
            named = dict(models, **({"fused": fused} if fused else {}))
            for model_id, p in named.items():
                rows.append({"scope": scope, "start_s": round(start, 3), "end_s": round(end, 3),
                             "model": model_id, "label": p.label, "confidence": round(p.confidence, 4),
                             "unsure": p.unsure, "mode": p.mode,
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
    used = {p.mode for p in predictions.values()}
    return Prediction(dict(zip(labels, fused.tolist())), bool(calibration.unsure(fused.max())),
                      used.pop() if len(used) == 1 else "mixed")


@dataclass(frozen=True)
class Context:
    """What a clip is read against beyond itself: a voice, as a plain reference
    (``voice_reference``) or an acted warm-up (``warm_up_reference``); a setting
    (``modes.Setting``); both (the setting then holds the voice's clips, by which the plain
    reference's guard judges it); or neither."""

    voice: modes.VoiceReference | modes.WarmUp | None = None
    setting: modes.Setting | None = None

    def mode_of(self, model: EmotionModel) -> tuple[str, object]:
        """The mode ``model`` reads in here, and its reference (``EmotionModel.predict_stats``)."""
        if isinstance(self.voice, modes.WarmUp):
            if uses_warm_up(model, self.voice):
                return modes.WARMED_UP, self.voice.models[model.id]
            return modes.PLAIN, None
        if self.voice and model.id in self.voice.stats and model.can_read(modes.VOICE):
            # The voice's own clips, heard in the setting, tell whether its reference was plain.
            reference = self.voice.stats[model.id]
            heard = self.setting.of(model.id) if self.setting else None
            if heard and heard.n >= 2:
                readings = model.uncalibrated(heard.recent(), modes.VOICE, reference)
                if modes.variety(readings) >= model.card.voice.guard["min_variety"]:
                    return modes.VOICE, reference
            return modes.PLAIN, None
        if self.setting and model.can_read(modes.ADAPTED):
            guard = model.card.adapted.guard
            if self.setting.one_by_one:  # read as it comes, measured so (experiment.read_adapted_one_by_one)
                guard = guard.get("one_by_one", guard)
            heard = self.setting.of(model.id)
            if heard.n >= 2:
                normaliser = heard.normaliser(model.setting_prior, guard["shrink_clips"])
                readings = model.uncalibrated(heard.recent(), modes.ADAPTED, normaliser)
                if modes.variety(readings) >= guard["min_variety"]:
                    return modes.ADAPTED, normaliser
        return modes.PLAIN, None


def _prediction(model: EmotionModel, frames: np.ndarray, mode: str, reference) -> Prediction:
    probs, settings, familiar = model.read_stats(clip_statistics(frames), mode, reference)
    unsure = calibration.unsure(probs.max(), settings.unsure_below)
    return Prediction(dict(zip(model.labels, probs.tolist())), bool(unsure), mode, familiar)


def voice_reference(recordings: list[np.ndarray], models: list[EmotionModel]) -> modes.VoiceReference:
    """Each model's mean clip statistics ``(n_layers, 2 * dim)`` over a speaker's recordings
    (16 kHz mono) of their plain, everyday voice, for ``analyse(..., voice=...)``; models
    without a voice head are left out.

    Raises ``AudioError`` when the recordings hold too little speech. Whether they sound
    plain is judged later, by how the voice's clips read against them (``Context.mode_of``):
    the plain head's own reading of a reference refused a third of real neutral ones
    (docs/experiments.md, round 3, section 4).
    """
    if not speakers.enough_speech(recordings):
        raise audio_io.AudioError(f"Calibrating to a voice needs at least "
                                  f"{config.MIN_CALIBRATION_SPEECH_S:g} s of that voice's speech.")
    pieces = [p for r in recordings for p in speakers.reference_windows(r)]
    able = [m for m in models if m.can_read(modes.VOICE)]
    stats = {m.id: np.mean([clip_statistics(m.frames(p)) for p in pieces], axis=0) for m in able}
    speech_s = sum(audio_io.speech_activity(r).speech_s for r in recordings)
    return modes.VoiceReference(stats, speech_s)


def warm_up_reference(takes: dict[str, np.ndarray], models: list[EmotionModel]) -> modes.WarmUp:
    """Each model's reading of a speaker's acted warm-up (``modes.read_warm_up``), for
    ``analyse(..., voice=...)``: ``takes`` maps each emotion of ``config.WARM_UP_PROMPTS`` to a
    recording (16 kHz mono) of the warm-up sentence said that way. Models that cannot read
    against a warm-up are left out; one whose warm-up does not name its own prompts (its guard,
    ``Context.mode_of``) keeps its reading and reads plain.

    Raises ``AudioError`` naming the first take missing or without speech.
    """
    stats: dict[str, list[np.ndarray]] = {}
    able = [m for m in models if m.can_read(modes.WARMED_UP)]
    speech_s = 0.0
    for emotion in config.WARM_UP_PROMPTS:
        audio = takes.get(emotion)
        activity = audio_io.speech_activity(audio) if audio is not None else None
        if activity is None or not activity.has_speech:
            raise audio_io.AudioError(f"The warm-up needs the sentence said {config.WARM_UP_HOW[emotion]}: "
                                      f"{'no speech was heard in that take' if activity else 'that take is missing'}.")
        start, end = audio_io.speech_span(audio, activity=activity)
        for m in able:
            stats.setdefault(m.id, []).append(clip_statistics(m.frames_in_pieces(audio[start:end])))
        speech_s += activity.speech_s
    prompts = [config.EMOTIONS.index(e) for e in config.WARM_UP_PROMPTS]
    readings = {}
    for m in able:
        guard = m.card.warmed_up.guard
        readings[m.id] = modes.read_warm_up(np.stack(stats[m.id]), prompts, m.setting_prior,
                                            lambda x, norm, m=m: m.uncalibrated(x, modes.ADAPTED, norm),
                                            guard["shrink_clips"], tuple(guard["l2"]))
    return modes.WarmUp(readings, speech_s)


def uses_warm_up(model: EmotionModel, warm_up: modes.WarmUp) -> bool:
    """Whether ``model`` reads against ``warm_up``: it can, and its guard let the warm-up through
    (the takes, read adapted to each other, named their own prompts enough: acted)."""
    reading = warm_up.models.get(model.id)
    return (reading is not None and model.can_read(modes.WARMED_UP)
            and reading.agreement >= model.card.warmed_up.guard["min_agreement"])


def hear(audio: np.ndarray, models: list[EmotionModel], setting: modes.Setting) -> None:
    """Add a clip (16 kHz mono) to ``setting`` without reading it (``analyse(..., learn=True)``
    reads it too). A clip without speech adds nothing."""
    activity = audio_io.speech_activity(audio)
    if activity.has_speech:
        start, end = audio_io.speech_span(audio, activity=activity)
        adapting = [m for m in models if _adapts(m)]
        _learn(setting, adapting, {m.id: m.frames_in_pieces(audio[start:end]) for m in adapting},
               activity.speech_s)


def _adapts(model: EmotionModel) -> bool:
    """Whether a setting keeps ``model``'s clips: its adapted head reads among them, or its
    voice guard judges a reference by them."""
    return model.can_read(modes.ADAPTED) or model.can_read(modes.VOICE)


def _learn(setting: modes.Setting, models: list[EmotionModel], frames: dict[str, np.ndarray],
           speech_s: float) -> None:
    """Add one clip, from each model's frames of its speech span, to ``setting``."""
    setting.add({m.id: clip_statistics(frames[m.id]) for m in models if _adapts(m)},
                speech_s)


def analyse(audio: np.ndarray, models: list[EmotionModel], fusion: dict | None = None,
            voice: modes.VoiceReference | modes.WarmUp | None = None, setting: modes.Setting | None = None,
            learn: bool = False) -> ClipAnalysis:
    """Analyse 16 kHz mono audio ``(n_samples,)`` with every model; ``fusion`` holds the
    stacking weights of the fused verdict (``reports.read_fusion``); ``voice``, from
    ``voice_reference`` or ``warm_up_reference``, makes each model hear the clip relative to
    its speaker's plain voice, or to their acted warm-up; else ``setting`` (clips added by
    ``hear``) makes it hear the clip among the others of its setting, this clip added to them
    first when ``learn``.

    Silence (no speech detected) is reported as such and never classified.
    """
    activity = audio_io.speech_activity(audio)
    if not activity.has_speech:
        return _no_speech(audio, activity)
    start, end = audio_io.speech_span(audio, activity=activity)
    frames = {m.id: m.frames_in_pieces(audio[start:end]) for m in models}
    offsets = {m.id: start / config.SAMPLE_RATE for m in models}
    if learn and setting is not None:
        _learn(setting, models, frames, activity.speech_s)
    return _analysis(audio, activity, models, frames, offsets, fusion, Context(voice, setting))


def analyse_frames(audio: np.ndarray, frames: dict[str, np.ndarray], frames_from: int,
                   models: list[EmotionModel], fusion: dict | None = None,
                   voice: modes.VoiceReference | modes.WarmUp | None = None,
                   setting: modes.Setting | None = None, learn: bool = False) -> ClipAnalysis:
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
    if learn and setting is not None:
        _learn(setting, models, spans, activity.speech_s)
    return _analysis(audio, activity, models, spans, offsets, fusion, Context(voice, setting))


def _no_speech(audio: np.ndarray, activity: audio_io.SpeechActivity) -> ClipAnalysis:
    return ClipAnalysis(len(audio) / config.SAMPLE_RATE, False, activity.speech_s, {}, None, [])


def _analysis(audio, activity, models, frames, offsets, fusion, context: Context) -> ClipAnalysis:
    """The clip's analysis from each model's frames of its speech span, which begin
    ``offsets[model.id]`` seconds into ``audio``."""
    duration_s = len(audio) / config.SAMPLE_RATE
    # Once per analysis: the setting's guard reads its recent clips, and no window changes it.
    read_as = {m.id: context.mode_of(m) for m in models}
    clip = {m.id: _prediction(m, frames[m.id], *read_as[m.id]) for m in models}
    timeline = []
    if duration_s > config.WINDOW_S:
        timeline = [_window(audio, w_start, w_end, offsets, models, frames, fusion, read_as)
                    for w_start, w_end in audio_io.windows(len(audio))]
    lead = reports.lead_id([m.card for m in models], fusion)
    fused = fuse(clip, fusion)
    mode = (fused if lead == FUSED else clip[lead]).mode
    plain, mode_speech_s = {}, 0.0
    if any(p.mode != modes.PLAIN for p in clip.values()):  # the heads again, not the backbones
        plain = {m.id: _prediction(m, frames[m.id], modes.PLAIN, None) for m in models}
        plain[FUSED] = fuse(plain, fusion)
        # Voice, when given, is what every model that can reads against (Context.mode_of).
        mode_speech_s = (context.voice or context.setting).speech_s
    return ClipAnalysis(duration_s, True, activity.speech_s, clip, fused, timeline, lead, mode,
                        mode_speech_s, plain)


def _window(audio, start, end, offsets, models, frames, fusion, read_as: dict) -> WindowPrediction:
    """One timeline window's readings; ``read_as``: model id -> (mode, reference), as the clip."""
    start_s, end_s = start / config.SAMPLE_RATE, end / config.SAMPLE_RATE
    if not audio_io.speech_activity(audio[start:end]).has_speech:
        return WindowPrediction(start_s, end_s, False)
    preds = {}
    for m in models:
        rate = m.backbone.frame_rate_hz
        lo = max(0, int((start_s - offsets[m.id]) * rate))
        hi = min(frames[m.id].shape[1], int(np.ceil((end_s - offsets[m.id]) * rate)))
        if hi - lo >= 2:
            preds[m.id] = _prediction(m, frames[m.id][:, lo:hi], *read_as[m.id])
    return WindowPrediction(start_s, end_s, bool(preds), preds, fuse(preds, fusion))


def prime(models: list[EmotionModel]) -> None:
    """Analyse two seconds of a synthetic voiced sound with every model.

    The first call of each backbone pays for lazy set-up (the ONNX Runtime
    sessions, filter banks and the DCT matrix); doing it
    at load time keeps that cost away from the user's first clip.
    """
    times_s = np.arange(2 * config.SAMPLE_RATE) / config.SAMPLE_RATE
    voiced = (times_s > 0.5) & (times_s < 1.5)  # silence either side, so the speech detector fires
    buzz = sum(np.sin(2 * np.pi * 150.0 * k * times_s) / k for k in range(1, 6))
    analyse((0.2 * voiced * buzz).astype(np.float32), models)
